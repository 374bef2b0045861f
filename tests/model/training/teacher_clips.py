"""Seeded numpy clips for the musicnn port test, regenerated identically by the test and by
``scripts/teacher_reference.py`` (which runs in a TensorFlow venv: numpy only here).

Four 10-s clips at 22 050 Hz, so the 16 kHz resampling is part of what is compared: a
chord progression with a kick/hat beat, a plucked melody over a bass, a bright noise wash
with a sweep (loud enough that float16 mel values exceed what a float16 product can hold),
and a quiet pad that stops halfway (silence).
"""

from __future__ import annotations

import numpy as np

RATE = 22050
SECONDS = 10.0
NAMES = ("chords_beat", "plucked_melody", "noise_sweep", "quiet_pad")


def _time(seconds: float = SECONDS) -> np.ndarray:
    return np.arange(int(seconds * RATE)) / RATE


def _notes(freqs: list[float], note_seconds: float, decay: float, harmonics: int) -> np.ndarray:
    """Back-to-back notes, each a decaying harmonic tone."""
    t = _time(note_seconds)
    env = np.exp(-t / decay)
    tones = [env * sum(np.sin(2 * np.pi * f * h * t) / h for h in range(1, harmonics + 1))
             for f in freqs]
    audio = np.concatenate(tones)[: int(SECONDS * RATE)]
    return np.pad(audio, (0, int(SECONDS * RATE) - len(audio)))


def _beat(rng: np.random.Generator, bpm: float) -> np.ndarray:
    out = np.zeros(int(SECONDS * RATE))
    beat = int(RATE * 60 / bpm)
    t = _time(0.15)
    kick = np.sin(2 * np.pi * (50 + 100 * np.exp(-t / 0.02)) * t) * np.exp(-t / 0.05)
    hat = rng.standard_normal(len(t)) * np.exp(-t / 0.01) * 0.3
    for i, start in enumerate(range(0, len(out) - len(t), beat // 2)):
        out[start:start + len(t)] += kick if i % 2 == 0 else hat
    return out


def clip(name: str, seed: int = 11) -> np.ndarray:
    """One named clip: float32 mono samples at ``RATE`` Hz, peak below 1."""
    rng = np.random.default_rng([seed, NAMES.index(name)])
    t = _time()
    if name == "chords_beat":
        roots = [220.0, 174.6, 261.6, 196.0]
        chords = np.concatenate([sum(np.sin(2 * np.pi * r * m * _time(SECONDS / 4)) for m in (1, 1.26, 1.5))
                                 for r in roots])
        audio = 0.25 * chords + 0.6 * _beat(rng, 120.0)
    elif name == "plucked_melody":
        melody = 440.0 * 2 ** (rng.integers(-7, 8, size=40) / 12)
        bass = 110.0 * 2 ** (rng.integers(-5, 6, size=10) / 12)
        audio = 0.5 * _notes(list(melody), 0.25, 0.12, 6) + 0.4 * _notes(list(bass), 1.0, 0.6, 3)
    elif name == "noise_sweep":
        sweep = np.sin(2 * np.pi * (200 * t + 300 * t ** 2))
        audio = 0.5 * rng.standard_normal(len(t)) + 0.5 * sweep
    elif name == "quiet_pad":
        pad = sum(np.sin(2 * np.pi * f * t + rng.uniform(0, 6.28)) for f in (130.8, 164.8, 196.0))
        audio = 0.02 * pad * (t < SECONDS / 2)
    else:
        raise ValueError(name)
    peak = max(1.0, float(np.abs(audio).max()) / 0.95)
    return (audio / peak).astype(np.float32)
