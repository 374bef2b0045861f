"""scipy's FFT, taken by the indexer's decoders, gives the features numpy's gives."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from model import fft
from model.audio import WINDOW_SAMPLES
from model.measure import measure
from model.mel import log_mel
from tests.synth_audio import music_like


@pytest.fixture
def numpy_fft(monkeypatch):
    """Each test starts from the default (numpy) and leaves it so."""
    monkeypatch.setattr(fft, "_rfft", np.fft.rfft)


def test_scipy_fft_keeps_log_mel_bpm_and_loudness(numpy_fft) -> None:
    samples = music_like(20.0, seed=5, bpm=126.0)
    windows = samples[: 3 * WINDOW_SAMPLES].reshape(3, WINDOW_SAMPLES)
    before_mel, (before_bpm, before_lufs) = log_mel(windows), measure(samples)
    assert fft._rfft is np.fft.rfft
    fft.use_scipy()
    assert fft._rfft is not np.fft.rfft
    np.testing.assert_allclose(log_mel(windows), before_mel, atol=1e-4)
    bpm, lufs = measure(samples)
    assert bpm == pytest.approx(before_bpm, abs=1e-3) and lufs == pytest.approx(before_lufs, abs=1e-3)
    assert fft.rfft(np.ones(8, np.float32)).dtype == np.complex64


def test_without_scipy_numpy_stays(numpy_fft, monkeypatch) -> None:
    """The desktop bundle leaves scipy out: a decoder worker must still start and decode."""
    monkeypatch.setitem(sys.modules, "scipy.fft", None)  # makes `import scipy.fft` raise ImportError
    fft.use_scipy()
    assert fft._rfft is np.fft.rfft
