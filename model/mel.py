"""The shipped mel filterbank and the log-mel front end in numpy (no torch).

Public API::

    mel_filters(rate=SAMPLE_RATE) -> (N_MELS, N_BINS) float32     # read once from the asset
    log_mel(windows) -> (n, 1, N_MELS, N_FRAMES) float32            # 22 050 Hz windows

``log_mel`` computes exactly what ``model.features.LogMel`` does on the torch side (the
definition is in that module's docstring): centred zero-padded STFT with a periodic Hann
window, power, mel, ``log10(1 + 10 S)``, fixed z-score. It is the front end of the ONNX
encoder (model.onnx_encoder), where importing torch would cost more than the search.
The filterbank asset is written by ``python -m model.features``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from model import fft
from model.audio import HOP_LENGTH, MEL_MEAN, MEL_STD, N_FFT, N_MELS, SAMPLE_RATE, WINDOW_SAMPLES

MEL_FILTERS_PATH = Path(__file__).with_name("assets") / "mel_filters.npz"
N_BINS = N_FFT // 2 + 1  # 513 STFT bins up to 11 025 Hz, at every rate in NATIVE_RATES


def mel_key(rate: int) -> str:
    """The filterbank's name for ``rate``'s frames inside the asset."""
    return f"mel_{N_MELS}" if rate == SAMPLE_RATE else f"mel_{N_MELS}_{rate}"


@functools.cache
def mel_filters(rate: int = SAMPLE_RATE) -> np.ndarray:
    """The shipped filterbank for ``rate``'s frames, read once (read-only array)."""
    with np.load(MEL_FILTERS_PATH) as f:
        filters = f[mel_key(rate)]
    filters.setflags(write=False)
    return filters


@functools.cache
def _hann() -> np.ndarray:
    n = np.arange(N_FFT)
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * n / N_FFT)).astype(np.float32)  # periodic


def log_mel(windows: np.ndarray) -> np.ndarray:
    """``(n, WINDOW_SAMPLES)`` 22 050 Hz waveforms -> ``(n, 1, N_MELS, N_FRAMES)`` network input."""
    windows = np.asarray(windows, dtype=np.float32).reshape(-1, WINDOW_SAMPLES)
    padded = np.pad(windows, ((0, 0), (N_FFT // 2, N_FFT // 2)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT, axis=1)[:, ::HOP_LENGTH]
    spectrum = fft.rfft(frames * _hann())  # (n, frames, N_BINS) complex64
    power = spectrum.real**2 + spectrum.imag**2  # (n, frames, N_BINS)
    # One 2-D product (BLAS); a batched matmul over the transposed power ran 30x slower.
    mel = (power.reshape(-1, N_BINS) @ mel_filters().T).reshape(power.shape[0], power.shape[1], N_MELS)
    out = (np.log10(1.0 + 10.0 * mel) - MEL_MEAN) / MEL_STD
    return np.ascontiguousarray(out.transpose(0, 2, 1)[:, None], dtype=np.float32)
