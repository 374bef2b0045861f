"""scipy's FFT, taken by the indexer's decoders, gives the features numpy's gives."""

from __future__ import annotations

import functools
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


def test_scipy_fft_without_importing_its_package(numpy_fft) -> None:
    """The decoder workers load pocketfft's extension alone (2 ms, not scipy.fft's 240 ms),
    and it transforms as scipy.fft does, on strided frames and any axis too."""
    scipy_fft = pytest.importorskip("scipy.fft")
    fft.use_scipy()
    assert isinstance(fft._rfft, functools.partial) and fft._rfft.func is fft._pocketfft_rfft
    frames = np.lib.stride_tricks.sliding_window_view(np.random.default_rng(0).standard_normal(5000), 1024)[::512]
    for x in (frames.astype(np.float32), frames, np.arange(64).reshape(8, 8)):
        np.testing.assert_array_equal(fft.rfft(x), scipy_fft.rfft(x))
        np.testing.assert_array_equal(fft.rfft(x, axis=0), scipy_fft.rfft(x, axis=0))
    assert fft.rfft(frames.astype(np.float32)).dtype == np.complex64


def test_without_scipy_numpy_stays(numpy_fft, monkeypatch) -> None:
    """The desktop bundle leaves scipy out: a decoder worker must still start and decode."""
    monkeypatch.setitem(sys.modules, "scipy", None)  # as if not installed: find_spec says None
    monkeypatch.setitem(sys.modules, "scipy.fft", None)  # makes `import scipy.fft` raise ImportError
    fft._pocketfft.cache_clear()
    fft.use_scipy()
    fft._pocketfft.cache_clear()
    assert fft._rfft is np.fft.rfft
