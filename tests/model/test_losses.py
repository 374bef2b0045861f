"""Masked triplet loss: a dimension's triplets reach only its block; track triplets reach all."""

from __future__ import annotations

import numpy as np
import torch

from model.augment import Augment, pitch_shift, time_stretch
from model.dimensions import BLOCK_SIZE, DIMENSIONS
from model.losses import csn_loss, masked_triplet_losses, nt_xent, track_triplet_loss


def _pairs(n: int, dimension: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Items 0 and 1 similar, item 2 dissimilar, in ``dimension`` only."""
    pos = torch.zeros(len(DIMENSIONS), n, n, dtype=torch.bool)
    neg = torch.zeros_like(pos)
    pos[dimension, 0, 1] = pos[dimension, 1, 0] = True
    neg[dimension, 0, 2] = neg[dimension, 1, 2] = True
    return pos, neg


def _block_grad_norms(grad: torch.Tensor) -> list[float]:
    return [float(grad[:, k * BLOCK_SIZE : (k + 1) * BLOCK_SIZE].norm()) for k in range(len(DIMENSIONS))]


def test_dimension_triplets_only_reach_their_block() -> None:
    torch.manual_seed(0)
    for k in range(len(DIMENSIONS)):
        emb = torch.randn(3, 256, requires_grad=True)
        pos, neg = _pairs(3, k)
        losses, counts = masked_triplet_losses(emb, pos, neg, margin=10.0)  # every triplet active
        losses.sum().backward()
        norms = _block_grad_norms(emb.grad)
        assert norms[k] > 0
        assert all(norm == 0 for j, norm in enumerate(norms) if j != k)
        assert counts[k] == 2 and counts.sum() == 2


def test_track_triplets_reach_every_block() -> None:
    torch.manual_seed(1)
    emb = torch.randn(4, 256, requires_grad=True)
    loss = track_triplet_loss(emb, torch.tensor([0, 0, 1, 1]), margin=10.0)
    loss.backward()
    assert all(norm > 0 for norm in _block_grad_norms(emb.grad))


def test_loss_is_zero_once_separated_by_the_margin() -> None:
    blocks = torch.zeros(3, len(DIMENSIONS), BLOCK_SIZE)
    blocks[0, :, 0] = blocks[1, :, 0] = 1.0  # anchor == positive
    blocks[2, :, 1] = 1.0  # negative orthogonal: distance sqrt(2) > margin
    emb = blocks.reshape(3, -1)
    pos, neg = _pairs(3, 0)
    loss, parts = csn_loss(emb, pos, neg, torch.tensor([0, 1, 2]))
    assert float(loss) < 1e-3 and set(parts) == {"genre", "track"}
    swapped, _ = csn_loss(emb[[0, 2, 1]], pos, neg, torch.tensor([0, 1, 2]))
    assert float(swapped) > 0.5  # positive and negative exchanged: the loss notices


def test_nt_xent_prefers_matching_views() -> None:
    torch.manual_seed(2)
    a = torch.randn(8, 256)
    assert nt_xent(a, a + 0.01 * torch.randn(8, 256)) < nt_xent(a, torch.randn(8, 256))


def test_augmentations_stretch_and_shift_pitch() -> None:
    rate = 22050
    t = np.arange(rate) / rate
    sine = np.sin(2 * np.pi * 440 * t).astype(np.float32)

    def peak(x: np.ndarray) -> float:
        return float(np.fft.rfftfreq(len(x), 1 / rate)[np.argmax(np.abs(np.fft.rfft(x)))])

    slow = time_stretch(sine, 0.8)
    assert abs(len(slow) - len(sine) / 0.8) <= 1 and abs(peak(slow) - 440) < 3
    up = pitch_shift(sine, 2)
    assert abs(len(up) - len(sine)) <= 2 and abs(peak(up) - 440 * 2 ** (2 / 12)) < 4
    out = Augment()(sine, np.random.default_rng(0))
    assert np.isfinite(out).all() and len(out) >= len(sine) / 1.2 - 2
