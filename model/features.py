"""The log-mel front end: a librosa reference (tests, the paper's definition) and a torch module.

``LogMel`` runs wherever the network runs (CPU or GPU, batched) and needs no librosa: the
mel filterbank ships precomputed in ``model/assets/mel_filters.npz`` (whisper's approach), made
by ``python -m model.features`` from ``librosa.filters.mel`` with its defaults (Slaney scale
and area normalisation). The definition, per window of ``WINDOW_SAMPLES``:

    S = mel_filters @ |STFT(x; n_fft=1024, hop=512, periodic Hann, centred, zero padding)|^2
    X = (log10(1 + 10 * S) - MEL_MEAN) / MEL_STD        # shape (128, 129)

Centred zero padding is librosa >= 0.10's default (``pad_mode="constant"``).
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.audio import HOP_LENGTH, MEL_MEAN, MEL_STD, N_FFT, N_MELS, SAMPLE_RATE

MEL_FILTERS_PATH = Path(__file__).with_name("assets") / "mel_filters.npz"


def build_mel_filters() -> np.ndarray:
    """The (N_MELS, N_FFT // 2 + 1) float32 filterbank, computed with librosa (build time only)."""
    import librosa

    return librosa.filters.mel(sr=SAMPLE_RATE, n_fft=N_FFT, n_mels=N_MELS).astype(np.float32)


def write_mel_filters(path: Path = MEL_FILTERS_PATH) -> Path:
    """Regenerate the shipped filterbank asset (``python -m model.features``)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **{f"mel_{N_MELS}": build_mel_filters()})
    return path


@functools.cache
def mel_filters() -> np.ndarray:
    """The shipped filterbank, read once (read-only array)."""
    with np.load(MEL_FILTERS_PATH) as f:
        filters = f[f"mel_{N_MELS}"]
    filters.setflags(write=False)
    return filters


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

    Always computed in float32 (autocast is switched off inside): the STFT and the log
    lose too much in fp16/bf16, and this stage costs ~1 % of the network.
    """

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)
        filters = torch.from_numpy(np.array(mel_filters()))
        self.register_buffer("filters", filters, persistent=False)

    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        with torch.autocast(waveforms.device.type, enabled=False):
            spec = torch.stft(
                waveforms.float(), N_FFT, HOP_LENGTH, window=self.window, center=True,
                pad_mode="constant", return_complex=True,
            )  # fmt: skip
            power = spec.real.square() + spec.imag.square()  # (B, 513, frames)
            mel = torch.matmul(self.filters, power)  # (B, 128, frames)
            logmel = torch.log10(1.0 + 10.0 * mel)
            return ((logmel - MEL_MEAN) / MEL_STD).unsqueeze(1)


if __name__ == "__main__":
    print(write_mel_filters())
