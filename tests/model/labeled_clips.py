"""Numpy-synthesised clips whose labels are audible, plus their labels CSV (shared by tests).

* tempo: notes struck on every beat at the clip's BPM;
* instrument: the note's timbre (sine, square-ish, noisy pluck);
* genre: the register (low or high notes);
* mood: left unknown (empty), which exercises "unknown takes no part".
Deterministic from the seed; each clip is 5 s, long enough for two excerpts that
overlap by at most 50 %.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 22050
TEMPI = (70.0, 115.0, 160.0)
INSTRUMENTS = ("sine", "square", "pluck")
REGISTERS = {"low": (110.0, 220.0), "high": (660.0, 1320.0)}


def _note(kind: str, freq: float, seconds: float, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    if kind == "sine":
        wave = np.sin(2 * np.pi * freq * t)
    elif kind == "square":
        wave = np.sign(np.sin(2 * np.pi * freq * t)) * 0.6
    else:
        wave = rng.standard_normal(len(t)) * 0.5 + np.sin(2 * np.pi * freq * t) * 0.5
    return (wave * np.exp(-t / 0.12)).astype(np.float32)


def clip(bpm: float, instrument: str, register: str, seconds: float, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(int(seconds * RATE), np.float32)
    lo, hi = REGISTERS[register]
    for start in np.arange(rng.uniform(0, 0.2), seconds, 60.0 / bpm):
        note = _note(instrument, float(rng.uniform(lo, hi)), 0.4, rng)
        i = int(start * RATE)
        n = min(len(note), len(out) - i)
        out[i : i + n] += note[:n]
    return 0.5 * out / max(1e-6, float(np.abs(out).max()))


def write_corpus(root: Path, n: int = 32, seed: int = 0, seconds: float = 5.0, val_every: int = 4) -> Path:
    """Write ``n`` clips and ``labels.csv`` (every ``val_every``-th clip in the val split)."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    rows = ["path,genre,mood,instrument,bpm,split"]
    for i in range(n):
        bpm = TEMPI[i % len(TEMPI)] + float(rng.uniform(-1.5, 1.5))
        instrument = INSTRUMENTS[(i // len(TEMPI)) % len(INSTRUMENTS)]
        register = ("low", "high")[int(rng.integers(2))]
        name = f"clip{i:03d}.wav"
        sf.write(root / name, clip(bpm, instrument, register, seconds, rng), RATE, subtype="PCM_16")
        split = "val" if i % val_every == val_every - 1 else "train"
        rows.append(f"{name},{register},,{instrument},{bpm:.2f},{split}")
    (root / "labels.csv").write_text("\n".join(rows) + "\n")
    return root / "labels.csv"
