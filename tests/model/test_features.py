"""The torch front end equals the librosa definition, and the shipped filterbank is librosa's."""

from __future__ import annotations

import numpy as np
import torch

from model.audio import N_FRAMES, N_MELS, WINDOW_SAMPLES
from model.features import LogMel, build_mel_filters, log_mel_reference, mel_filters
from tests.synth_audio import music_like, noise

# float32 STFTs in two libraries differ by rounding only; on z-scored values (range about
# -0.8 .. 13) we measured a max difference of 2e-6, and allow 1e-4.
TOLERANCE = 1e-4


def _windows() -> np.ndarray:
    clip = np.concatenate([music_like(3.0, seed=5), noise(3.0, seed=6)])
    return np.stack([clip[:WINDOW_SAMPLES], clip[-WINDOW_SAMPLES:], np.zeros(WINDOW_SAMPLES)])


def test_shipped_filterbank_equals_librosa() -> None:
    shipped = mel_filters()
    assert shipped.shape == (N_MELS, 513) and shipped.dtype == np.float32
    np.testing.assert_allclose(shipped, build_mel_filters(), rtol=1e-6, atol=1e-9)


def test_torch_front_end_matches_librosa_reference() -> None:
    windows = _windows().astype(np.float32)
    reference = log_mel_reference(windows)
    with torch.no_grad():
        out = LogMel()(torch.from_numpy(windows))
    assert out.shape == (3, 1, N_MELS, N_FRAMES) and out.dtype == torch.float32
    np.testing.assert_allclose(out[:, 0].numpy(), reference, atol=TOLERANCE, rtol=0)


def test_silence_maps_to_the_z_scored_floor() -> None:
    """log10(1 + 0) = 0, so silence is (0 - 0.2) / 0.25 = -0.8 everywhere."""
    with torch.no_grad():
        out = LogMel()(torch.zeros(1, WINDOW_SAMPLES))
    np.testing.assert_allclose(out.numpy(), -0.8)


def test_front_end_stays_float32_under_autocast() -> None:
    windows = torch.from_numpy(_windows().astype(np.float32))
    module = LogMel()
    with torch.no_grad():
        plain = module(windows)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            cast = module(windows)
    assert cast.dtype == torch.float32
    torch.testing.assert_close(cast, plain)


def test_numpy_front_end_matches_the_torch_module() -> None:
    from model.mel import log_mel

    windows = _windows().astype(np.float32)  # music, noise and silence
    expected = LogMel()(torch.from_numpy(windows)).numpy()
    got = log_mel(windows)
    assert got.shape == expected.shape == (3, 1, N_MELS, N_FRAMES) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, atol=TOLERANCE)
