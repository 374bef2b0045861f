"""Shapes, normalisation, variants and the reduced-precision CPU path of the Inception CSN."""

from __future__ import annotations

from dataclasses import asdict

import pytest
import torch

from model.checkpoint import new_untrained_model
from model.dimensions import EMBEDDING_SIZE
from model.network import CSNInception, ModelDims, count_flops, parameter_count

SMALL = ModelDims(stem_channels=16, widths=(16, 16, 24, 24, 32, 32))


def _batch(n: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randn(n, 1, 128, 129, generator=torch.Generator().manual_seed(seed))


def test_output_is_l2_normalised_256d() -> None:
    network = new_untrained_model(seed=1)
    with torch.no_grad():
        out = network(_batch())
    assert out.shape == (4, EMBEDDING_SIZE)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(4))


def test_six_stride_two_blocks_reach_one_by_one() -> None:
    network = CSNInception(ModelDims()).eval()
    with torch.no_grad():
        x = torch.max_pool2d(network.stem(_batch(1)), 2)
        assert x.shape[-2:] == (64, 64)
        assert network.blocks(x).shape == (1, 256, 1, 1)
    assert len(network.blocks) == 12  # six (naive stride-2, inception) pairs


def test_dims_variants_and_cost_report() -> None:
    default, small = CSNInception(ModelDims()), CSNInception(SMALL)
    assert parameter_count(small) < parameter_count(default)
    assert 1e8 < count_flops(default) < 1e9  # about 0.23 GFLOPs per window
    assert count_flops(small) < count_flops(default)
    with pytest.raises(ValueError):
        ModelDims(widths=(10, 16, 16, 16, 16, 16))


def test_dims_survive_a_list_round_trip() -> None:
    assert ModelDims(widths=[64, 96, 128, 160, 192, 256]) == ModelDims()  # type: ignore[arg-type]


def test_fused_batch_norm_gives_the_same_embeddings() -> None:
    network = new_untrained_model(seed=2)
    x = _batch(seed=3)
    with torch.no_grad():
        before = network(x)
        after = network.fuse_for_inference()(x)
    torch.testing.assert_close(after, before, atol=1e-5, rtol=1e-4)
    with pytest.raises(RuntimeError):
        new_untrained_model(seed=2).train().fuse_for_inference()


def test_bf16_channels_last_matches_fp32() -> None:
    """The CPU fast path (bf16 autocast + channels_last + fused BN) vs plain fp32.

    Runs on any CPU: without native bf16 torch emulates it (slower, same numerics).
    """
    network = new_untrained_model(seed=4)
    x = _batch(8, seed=5) * 1.5
    with torch.no_grad():
        reference = network(x)
        fast = network.fuse_for_inference().to(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = fast(x.contiguous(memory_format=torch.channels_last))
    assert out.dtype == torch.float32  # head and normalisation stay in fp32
    cosine = torch.nn.functional.cosine_similarity(out, reference)
    assert cosine.min().item() >= 0.999, cosine


def test_tempo_branch_sees_the_beat_period() -> None:
    """A click every 20 frames (0.46 s: 129 BPM) peaks the flux autocorrelation at lag 20 and
    its multiples (the unbiased normalisation gives every multiple the same height)."""
    branch = CSNInception(ModelDims()).tempo
    x = torch.zeros(1, 1, 128, 129)
    x[..., 5::20] = 4.0
    profile = branch.periodicity(x)
    assert profile.shape == (1, branch.BANDS, ModelDims().tempo_lags)
    lags = torch.arange(branch.FIRST_LAG, branch.FIRST_LAG + branch.lags)
    peaks = lags[profile[0, 0] > 0.5 * profile[0, 0].max()]
    assert 20 in peaks and all(int(lag) % 20 == 0 for lag in peaks), peaks
    torch.testing.assert_close(branch.periodicity(x * 3.0), profile)  # loudness-free


def test_tempo_branch_moves_only_the_tempo_block() -> None:
    """Block directions are what search and the losses compare: the branch must leave the
    genre, mood and instrument blocks' directions untouched."""
    from model.losses import split_blocks

    network = new_untrained_model(seed=6, dims=SMALL)
    x = _batch(seed=7)
    with torch.no_grad():
        before = split_blocks(network(x))
        for p in network.tempo.parameters():
            p.add_(torch.randn_like(p))
        after = split_blocks(network(x))
    torch.testing.assert_close(after[:, :3], before[:, :3])
    assert not torch.allclose(after[:, 3], before[:, 3])


def test_files_from_before_the_tempo_branch_are_the_paper_network() -> None:
    stored = {k: v for k, v in asdict(ModelDims()).items() if k != "tempo_lags"}
    dims = ModelDims.from_dict(stored)
    assert dims.tempo_lags == 0 and CSNInception(dims).tempo is None
    assert ModelDims.from_dict(asdict(ModelDims())) == ModelDims()
