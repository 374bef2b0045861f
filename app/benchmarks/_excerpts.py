"""Degraded excerpts for retrieval benchmarks: the conditions an editor's temp clip arrives in.

A temp track is rarely the library file itself: it was re-encoded by the NLE, mixed under
dialogue, pitched by a speed change (PAL 4 %) or retimed. Each condition takes 22 050 Hz
mono samples and returns samples of the same rate (time-stretch changes the length).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from model.audio import SAMPLE_RATE, load_audio

CONDITIONS = (
    "clean",
    "re-encoded",
    "noisy",
    "+1 semitone",
    "-1 semitone",
    "+8% tempo",
    "-8% tempo",
)
NOISE_SNR_DB = 10.0


def degrade(samples: np.ndarray, condition: str, rng: np.random.Generator, tmp: Path) -> np.ndarray:
    """``samples`` as ``condition`` leaves them (``tmp``: a folder for the re-encoded file)."""
    if condition == "clean":
        return samples
    if condition == "re-encoded":  # 44.1 kHz Ogg Vorbis at low quality, decoded back
        import soundfile as sf
        import soxr

        path = tmp / "re.ogg"
        sf.write(
            path,
            soxr.resample(samples, SAMPLE_RATE, 44100),
            44100,
            format="OGG",
            subtype="VORBIS",
            compression_level=0.9,
        )
        return load_audio(path)
    if condition == "noisy":  # white noise at NOISE_SNR_DB
        power = float(np.mean(samples**2)) or 1e-6
        noise = rng.normal(scale=np.sqrt(power / 10 ** (NOISE_SNR_DB / 10)), size=samples.size)
        return samples + noise.astype(np.float32)
    import librosa

    if condition.endswith("semitone"):
        steps = 1 if condition.startswith("+") else -1
        return librosa.effects.pitch_shift(samples, sr=SAMPLE_RATE, n_steps=steps).astype(
            np.float32
        )
    if condition.endswith("% tempo"):  # "+8% tempo" (CONDITIONS), or any other "+-N% tempo"
        rate = 1 + float(condition.split("%")[0]) / 100
        return librosa.effects.time_stretch(samples, rate=rate).astype(np.float32)
    raise ValueError(f"unknown condition {condition!r}; one of {CONDITIONS}")
