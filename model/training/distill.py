"""Distilling the musicnn teacher into the genre, mood and instrument blocks.

Each tag block learns its own part of the teacher (``teacher_tags.BLOCK_GROUPS``: genre <-
genre tags, mood <- mood tags, instrument <- instrument and voice tags), in two ways that
complement each other:

1. **Soft triplets** (the metric search uses). Two tracks are teacher-similar in a block
   when the cosine of their teacher vectors for that block is in the top ``POSITIVE_SHARE``
   of all training pairs, and teacher-dissimilar when it is in the bottom
   ``NEGATIVE_SHARE``; the pairs in between are left out (no confident call). These pair
   matrices join the label rules of ``model.samplers.pair_matrices`` for every pair that
   the labels do not decide (real music has no genre/mood/instrument labels; synthetic
   clips keep theirs), so the CSN loss needs no change.
2. **Block heads** (the information). A linear head per block, on that block alone,
   predicts its tags (binary cross-entropy on the teacher's soft probabilities). It is a
   training-time module: the shipped model does not carry it.

Targets are per track: the mean of the teacher's 3-s segments over the part of the track
the audio cache holds (``model.datasets``: the middle ``max_seconds``), silent segments
dropped (``teacher_cache.load_tags``). Leakage (how much each block knows of the others' tags) is measured by
``model.training.leakage``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from model.dimensions import DIMENSIONS
from model.losses import split_blocks
from model.training.teacher_cache import load_tags
from model.training.teacher_tags import BLOCK_GROUPS, block_tag_indices

TAG_BLOCKS: tuple[str, ...] = tuple(BLOCK_GROUPS)  # genre, mood, instrument
BLOCK_TAG_COUNTS = {b: sum(len(cols) for cols in block_tag_indices(b)) for b in TAG_BLOCKS}  # MSD + MTT tags
POSITIVE_SHARE = 0.2
NEGATIVE_SHARE = 0.5
HEAD_WEIGHT = 1.0  # of the block heads' loss, next to the triplet losses
SEGMENT_SECONDS = 3.0  # what one teacher segment covers


def block_targets(msd: np.ndarray, mtt: np.ndarray) -> dict[str, np.ndarray]:
    """Per tag block, the teacher outputs it learns: ``(..., n_block_tags)`` each."""
    out = {}
    for block in TAG_BLOCKS:
        msd_cols, mtt_cols = block_tag_indices(block)
        out[block] = np.concatenate([msd[..., msd_cols], mtt[..., mtt_cols]], axis=-1).astype(np.float32)
    return out


def track_targets(cache: Path, max_seconds: float) -> dict[str, np.ndarray] | None:
    """Mean teacher targets over the middle ``max_seconds`` of a track (None: all silent).

    The track's duration is taken from the cache (its last segment's end), to within the
    3-s segment grid, which is all the choice of the middle needs.
    """
    tags = load_tags(cache)
    start = tags["start_s"]
    duration_s = float(start[-1]) + SEGMENT_SECONDS if len(start) else 0.0
    lo = max(0.0, (duration_s - max_seconds) / 2.0)
    keep = (start >= lo - 1.0) & (start <= lo + max_seconds)
    if not keep.any():
        return None
    return {block: t.mean(axis=0) for block, t in block_targets(tags["msd"][keep], tags["mtt"][keep]).items()}


@dataclass(frozen=True)
class TeacherTargets:
    """Teacher targets for the rows of a training run's label list (``known`` marks rows
    that have them), and the similarity thresholds that make pairs positive or negative."""

    targets: dict[str, np.ndarray]  # block -> (rows, n_block_tags), zeros where unknown
    known: np.ndarray  # (rows,) bool
    positive_at: dict[str, float]
    negative_at: dict[str, float]

    @classmethod
    def build(cls, per_row: Sequence[dict[str, np.ndarray] | None], seed: int = 0) -> TeacherTargets:
        known = np.array([t is not None for t in per_row], dtype=bool)
        targets = {b: np.zeros((len(per_row), n), np.float32) for b, n in BLOCK_TAG_COUNTS.items()}
        for i, t in enumerate(per_row):
            if t is not None:
                for b in TAG_BLOCKS:
                    targets[b][i] = t[b]
        positive_at, negative_at = {}, {}
        rows = np.flatnonzero(known)
        rng = np.random.default_rng(seed)
        for b in TAG_BLOCKS:
            if len(rows) < 2:
                positive_at[b], negative_at[b] = np.inf, -np.inf
                continue
            a, c = rng.choice(rows, 20000), rng.choice(rows, 20000)
            sims = _cosines(targets[b][a], targets[b][c])[a != c]
            positive_at[b] = float(np.quantile(sims, 1 - POSITIVE_SHARE))
            negative_at[b] = float(np.quantile(sims, NEGATIVE_SHARE))
        return cls(targets, known, positive_at, negative_at)

    def pair_matrices(self, rows: np.ndarray, track_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(D, N, N)`` teacher positives and negatives for a batch (tempo rows all False)."""
        n = len(rows)
        positives = np.zeros((len(DIMENSIONS), n, n), dtype=bool)
        negatives = np.zeros_like(positives)
        known = self.known[rows]
        both = known[:, None] & known[None, :] & (track_ids[:, None] != track_ids[None, :])
        for block in TAG_BLOCKS:
            k = DIMENSIONS.index(block)
            t = self.targets[block][rows]
            sims = _cosines(t[:, None, :], t[None, :, :])
            positives[k] = both & (sims >= self.positive_at[block])
            negatives[k] = both & (sims <= self.negative_at[block])
        return positives, negatives

    def batch_targets(self, rows: np.ndarray) -> dict[str, torch.Tensor]:
        return {b: torch.from_numpy(self.targets[b][rows]) for b in TAG_BLOCKS}


def _cosines(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    dot = (a * b).sum(-1)
    return dot / np.maximum(np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1), 1e-9)


def merge_pairs(
    label_pairs: tuple[np.ndarray, np.ndarray], teacher_pairs: tuple[np.ndarray, np.ndarray]
) -> tuple[np.ndarray, np.ndarray]:
    """Labels decide the pairs they know (positive or negative); the teacher fills the rest."""
    label_pos, label_neg = label_pairs
    decided = label_pos | label_neg
    return label_pos | (teacher_pairs[0] & ~decided), label_neg | (teacher_pairs[1] & ~decided)


class BlockHeads(torch.nn.Module):
    """One linear head per tag block, reading only its own (normalised) 64-d block."""

    def __init__(self, sizes: dict[str, int], block_size: int = 64) -> None:
        super().__init__()
        self.heads = torch.nn.ModuleDict({b: torch.nn.Linear(block_size, n) for b, n in sizes.items()})

    @classmethod
    def for_teacher(cls) -> BlockHeads:
        return cls(BLOCK_TAG_COUNTS)

    def loss(self, embeddings: torch.Tensor, targets: dict[str, torch.Tensor], known: torch.Tensor) -> torch.Tensor:
        """Mean binary cross-entropy over the blocks, on the batch items with teacher targets."""
        if not bool(known.any()):
            return embeddings.new_zeros(())
        blocks = split_blocks(embeddings[known])
        losses = [F.binary_cross_entropy_with_logits(head(blocks[:, DIMENSIONS.index(b)]),
                                                     targets[b][known].to(embeddings.device))
                  for b, head in self.heads.items()]
        return torch.stack(losses).mean()
