"""Losses: masked (CSN) triplet loss per dimension, track triplets, label-free NT-Xent.

Distances are taken on *block-normalised* embeddings: each 64-d block is L2-normalised
before the distance, and the full-space vector is the concatenation of the normalised
blocks scaled to unit length. The paper normalises the whole 256-d vector instead; we
normalise blocks because that is exactly what search compares (per-block cosines, summed
with slider weights), so the loss trains the geometry the app uses. Because the
normalisation is per block, a dimension's loss still only reaches its own block (the
fixed disjoint masks of CSN), while track triplets reach all blocks.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from model.dimensions import BLOCK_SIZE, DIMENSIONS

MARGIN = 0.1
TRACK_WEIGHT = 0.5  # lambda in the paper's eq. (5)


def split_blocks(embeddings: torch.Tensor) -> torch.Tensor:
    """(B, 256) -> (B, D, 64), each block L2-normalised."""
    blocks = embeddings.float().reshape(embeddings.shape[0], len(DIMENSIONS), BLOCK_SIZE)
    return F.normalize(blocks, dim=-1, eps=1e-8)


def full_space(embeddings: torch.Tensor) -> torch.Tensor:
    """(B, 256) -> (B, 256): normalised blocks concatenated, unit length overall."""
    blocks = split_blocks(embeddings)
    return blocks.reshape(embeddings.shape[0], -1) / len(DIMENSIONS) ** 0.5


def _unit_distances(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between unit vectors via the cosine (stable gradient at 0)."""
    return torch.sqrt(torch.clamp(2.0 - 2.0 * (a @ b.T), min=1e-8))


def masked_triplet_losses(
    embeddings: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    margin: float = MARGIN,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-dimension mean triplet loss over all valid in-batch triplets.

    ``positives``/``negatives`` are (D, N, N) bool pair matrices: (a, p, n) is a triplet of
    dimension d when ``positives[d, a, p] and negatives[d, a, n]``. Returns ``(losses,
    counts)``, both (D,); a dimension with no triplet has loss 0 and count 0.
    """
    blocks = split_blocks(embeddings)
    losses, counts = [], []
    for k in range(len(DIMENSIONS)):
        dist = _unit_distances(blocks[:, k], blocks[:, k])
        mask = positives[k][:, :, None] & negatives[k][:, None, :]
        count = mask.sum()
        hinge = F.relu(dist[:, :, None] - dist[:, None, :] + margin)
        losses.append((hinge * mask).sum() / count.clamp(min=1))
        counts.append(count)
    return torch.stack(losses), torch.stack(counts)


def track_triplet_loss(
    embeddings: torch.Tensor, track_ids: torch.Tensor, margin: float = MARGIN
) -> torch.Tensor:
    """Triplet loss on the full space: anchor/positive are two excerpts of one track and every
    excerpt of another track in the batch is a negative. Zero when no track has two excerpts."""
    vectors = full_space(embeddings)
    dist = _unit_distances(vectors, vectors)
    same = track_ids[:, None] == track_ids[None, :]
    eye = torch.eye(len(track_ids), dtype=torch.bool, device=embeddings.device)
    mask = (same & ~eye)[:, :, None] & ~same[:, None, :]
    hinge = F.relu(dist[:, :, None] - dist[:, None, :] + margin)
    return (hinge * mask).sum() / mask.sum().clamp(min=1)


def csn_loss(
    embeddings: torch.Tensor,
    positives: torch.Tensor,
    negatives: torch.Tensor,
    track_ids: torch.Tensor,
    margin: float = MARGIN,
    track_weight: float = TRACK_WEIGHT,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The paper's eq. (5): category triplets (averaged over dimensions that have any) plus
    ``track_weight`` times the track triplets. Returns the loss and loggable parts."""
    per_dim, counts = masked_triplet_losses(embeddings, positives, negatives, margin)
    present = counts > 0
    category = per_dim[present].mean() if bool(present.any()) else per_dim.sum() * 0.0
    track = track_triplet_loss(embeddings, track_ids, margin) if track_weight else category * 0.0
    parts = {d: float(per_dim[k].detach()) for k, d in enumerate(DIMENSIONS) if bool(present[k])}
    parts["track"] = float(track.detach())
    return category + track_weight * track, parts


def nt_xent(view_a: torch.Tensor, view_b: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's NT-Xent (InfoNCE) on the full space: view_a[i] and view_b[i] are two
    augmented excerpts of one track, every other item in the 2B batch is a negative."""
    z = torch.cat([full_space(view_a), full_space(view_b)])  # unit vectors
    logits = z @ z.T / temperature
    n = view_a.shape[0]
    logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=z.device), float("-inf"))
    targets = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)]).to(z.device)
    return F.cross_entropy(logits, targets)
