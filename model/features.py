"""The log-mel front end: a librosa reference (tests, the paper's definition) and a torch module.

``LogMel`` runs wherever the network runs (CPU or GPU, batched) and needs no librosa: the
mel filterbank ships precomputed in ``model/assets/mel_filters.npz`` (whisper's approach), made
by ``python -m model.features`` from ``librosa.filters.mel`` with its defaults (Slaney scale
and area normalisation). The definition, per window of ``WINDOW_SAMPLES``:

    S = mel_filters @ |STFT(x; n_fft=1024, hop=512, periodic Hann, centred, zero padding)|^2
    X = (log10(1 + 10 * S) - MEL_MEAN) / MEL_STD        # shape (128, 129)

Centred zero padding is librosa >= 0.10's default (``pad_mode="constant"``).

44.1 kHz sources skip the resampler (``NATIVE_RATES``): framed with n_fft 2048 / hop 1024
their frames span the same 46 ms around the same instants and their first 513 bins sit at
the same frequencies as the 22 050 Hz bins. Their filterbank is the 22 050 Hz one times the
power response of the resampler it replaces (soxr HQ, measured on an impulse at build time).
That response includes the factor 1/4 that maps a 2048-point frame's power to a 1024-point
frame's (twice the samples sum to twice the amplitude), and its anti-alias roll-off above
~10 kHz, so the top bands match too. Measured on real music, the log-mel values agree with
the resampled path's to ~1e-4 on average (edge frames up to ~0.06, where the resampler sees
audio beyond the window), and embeddings to cosine >= .999 (tests/model/test_native_rate.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.audio import (
    HOP_LENGTH,
    MEL_MEAN,
    MEL_STD,
    N_FFT,
    N_MELS,
    NATIVE_RATES,
    RESAMPLE_QUALITY,
    SAMPLE_RATE,
)
from model.mel import MEL_FILTERS_PATH, N_BINS, mel_filters, mel_key


def resampler_power_response(rate: int) -> np.ndarray:
    """``|H|^2`` at the ``N_BINS`` bin frequencies of soxr's ``rate`` -> ``SAMPLE_RATE`` filter.

    Measured on a unit impulse: the output's spectrum is the filter's response scaled by the
    amplitude ratio ``SAMPLE_RATE / rate`` (so 1/4 in power from 44.1 kHz in the passband).
    """
    import soxr

    factor = rate // SAMPLE_RATE
    n = N_FFT * 64  # output length: bin k of the 1024-point frame is FFT bin 64k
    impulse = np.zeros(n * factor, dtype=np.float64)
    impulse[len(impulse) // 2] = 1.0
    response = soxr.resample(impulse, rate, SAMPLE_RATE, quality=RESAMPLE_QUALITY)
    power = np.abs(np.fft.rfft(response, n=n)) ** 2
    return power[:: n // N_FFT][:N_BINS]


def build_mel_filters(rate: int = SAMPLE_RATE) -> np.ndarray:
    """The (N_MELS, N_BINS) float32 filterbank for ``rate``'s frames (build time only: librosa)."""
    import librosa

    filters = librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS)
    if rate != SAMPLE_RATE:
        filters = filters * resampler_power_response(rate)
    return filters.astype(np.float32)


def write_mel_filters(path: Path = MEL_FILTERS_PATH) -> Path:
    """Regenerate the shipped filterbank asset (``python -m model.features``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{mel_key(rate): build_mel_filters(rate) for rate in NATIVE_RATES})
    return path


def log_mel_reference(windows: np.ndarray) -> np.ndarray:
    """The front end computed by librosa: ``(n, WINDOW_SAMPLES)`` -> ``(n, N_MELS, N_FRAMES)``."""
    import librosa

    windows = np.atleast_2d(np.asarray(windows, dtype=np.float32))
    power = librosa.feature.melspectrogram(
        y=windows, sr=SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS,
        power=2.0, center=True, pad_mode="constant",
    )  # fmt: skip
    return ((np.log10(1.0 + 10.0 * power) - MEL_MEAN) / MEL_STD).astype(np.float32)


class LogMel(nn.Module):
    """``(B, WINDOW_SAMPLES)`` waveforms -> ``(B, 1, N_MELS, N_FRAMES)`` z-scored log-mel.

    ``rate`` (one of ``NATIVE_RATES``) says what the waveforms are sampled at; 44.1 kHz
    windows have twice the samples and give the same features (module doc).
    Always computed in float32 (autocast is switched off inside): the STFT and the log
    lose too much in fp16/bf16, and this stage costs ~1 % of the network.
    """

    def __init__(self) -> None:
        super().__init__()
        for rate in NATIVE_RATES:
            n_fft = N_FFT * rate // SAMPLE_RATE
            self.register_buffer(f"window_{rate}", torch.hann_window(n_fft, periodic=True), persistent=False)
            filters = torch.from_numpy(np.array(mel_filters(rate)))
            self.register_buffer(f"filters_{rate}", filters, persistent=False)

    def forward(self, waveforms: torch.Tensor, rate: int = SAMPLE_RATE) -> torch.Tensor:
        if rate not in NATIVE_RATES:
            raise ValueError(f"LogMel takes {NATIVE_RATES} Hz, not {rate}")
        factor = rate // SAMPLE_RATE
        with torch.autocast(waveforms.device.type, enabled=False):
            spec = torch.stft(
                waveforms.float(), N_FFT * factor, HOP_LENGTH * factor,
                window=getattr(self, f"window_{rate}"), center=True, pad_mode="constant",
                return_complex=True,
            )[:, :N_BINS]  # fmt: skip
            power = spec.real.square() + spec.imag.square()  # (B, 513, frames)
            mel = torch.matmul(getattr(self, f"filters_{rate}"), power)  # (B, 128, frames)
            logmel = torch.log10(1.0 + 10.0 * mel)
            return ((logmel - MEL_MEAN) / MEL_STD).unsqueeze(1)


if __name__ == "__main__":
    print(write_mel_filters())
