"""Deterministic synthetic audio for tests: tones, chords, click tracks and noise, written as files.

Reusable by every test module (``from tests.synth_audio import write_audio, tone``). Each
generator returns float32 samples in [-1, 1] (mono ``(n,)`` or ``(n, channels)``); ``write_audio``
writes WAV/FLAC/OGG with libsndfile, MP3 with libsndfile's LAME encoder (ffmpeg if that
fails) and M4A (AAC) with PyAV's own encoder (no ffmpeg needed). Same arguments and seed give the same samples, so tests assert invariants, not floats.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import soundfile as sf

DEFAULT_RATE = 22050


def tone(
    freq: float, seconds: float, sr: int = DEFAULT_RATE, amplitude: float = 0.5
) -> np.ndarray:
    """A sine at ``freq`` Hz."""
    t = np.arange(int(round(seconds * sr))) / sr
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def chord(
    freqs: list[float], seconds: float, sr: int = DEFAULT_RATE, amplitude: float = 0.5
) -> np.ndarray:
    """Several sines of equal level summed, peak ``amplitude``."""
    mix = sum(tone(f, seconds, sr, 1.0) for f in freqs)
    mix = np.asarray(mix, dtype=np.float32)
    return (amplitude * mix / max(1e-9, float(np.abs(mix).max()))).astype(np.float32)


def clicks(bpm: float, seconds: float, sr: int = DEFAULT_RATE, amplitude: float = 0.8) -> np.ndarray:
    """A click track: a 10 ms decaying 1 kHz burst on every beat at ``bpm``."""
    out = np.zeros(int(round(seconds * sr)), dtype=np.float32)
    burst_n = int(0.01 * sr)
    t = np.arange(burst_n) / sr
    burst = amplitude * np.sin(2 * np.pi * 1000 * t) * np.exp(-t / 0.003)
    for start in np.arange(0, seconds, 60.0 / bpm):
        i = int(start * sr)
        n = min(burst_n, out.size - i)
        out[i : i + n] += burst[:n]
    return out


def noise(seconds: float, seed: int = 0, sr: int = DEFAULT_RATE, amplitude: float = 0.3) -> np.ndarray:
    """White noise from a seeded generator."""
    rng = np.random.default_rng(seed)
    return (amplitude * rng.uniform(-1, 1, int(round(seconds * sr)))).astype(np.float32)


def music_like(seconds: float, seed: int = 0, sr: int = DEFAULT_RATE, bpm: float = 120.0) -> np.ndarray:
    """A seeded mix of a chord progression, a click track and a little noise (stands in for music)."""
    rng = np.random.default_rng(seed)
    bar = 4 * 60.0 / bpm
    parts = []
    for _ in range(int(np.ceil(seconds / bar))):
        root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
        parts.append(chord([root, root * 1.26, root * 1.5, root * 2], bar, sr, 0.4))
    harmony = np.concatenate(parts)[: int(round(seconds * sr))]
    mix = harmony + clicks(bpm, seconds, sr, 0.5) + noise(seconds, seed, sr, 0.05)
    return np.clip(mix, -1, 1).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, sr: int = DEFAULT_RATE, subtype: str | None = None) -> Path:
    """Write ``samples`` to ``path``; the format follows the suffix (.wav .flac .ogg .mp3 .m4a)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".m4a":
        return write_m4a(path, samples, sr)
    if suffix == ".mp3":
        try:
            sf.write(str(path), samples, sr, format="MP3", subtype="MPEG_LAYER_III")
            return path
        except (sf.LibsndfileError, RuntimeError, ValueError):
            if shutil.which("ffmpeg") is None:
                raise
            wav = path.with_suffix(".tmp.wav")
            sf.write(str(wav), samples, sr)
            subprocess.run(["ffmpeg", "-v", "error", "-y", "-i", str(wav), str(path)], check=True)
            wav.unlink()
            return path
    formats = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG"}
    if suffix not in formats:
        raise ValueError(f"unsupported test audio suffix {suffix}")
    if subtype is None and suffix == ".ogg":
        subtype = "VORBIS"
    sf.write(str(path), samples, sr, format=formats[suffix], subtype=subtype)
    return path


def write_m4a(path: Path, samples: np.ndarray, sr: int = DEFAULT_RATE, faststart: bool = True) -> Path:
    """AAC-LC in MP4 by FFmpeg's encoder through PyAV, at 192 kbit/s; ``faststart``: the index
    (moov) before the data, as streaming tools write it (FFmpeg's default puts it at the end).

    PNS (noise substitution) is off: its decoder fills bands with random noise, so a span
    decoded after a seek would not equal the same samples of the whole file.
    """
    import av

    planar = np.ascontiguousarray(np.asarray(samples, np.float32).reshape(len(samples), -1).T)
    layout = "mono" if planar.shape[0] == 1 else "stereo"
    with av.open(str(path), "w", options={"movflags": "faststart"} if faststart else {}) as out:
        stream = out.add_stream("aac", rate=sr, layout=layout, options={"aac_pns": "0"})
        stream.bit_rate = 192000
        frame_size = 1024
        for start in range(0, planar.shape[1], frame_size):
            frame = av.AudioFrame.from_ndarray(planar[:, start : start + frame_size].copy(), format="fltp", layout=layout)
            frame.rate, frame.pts = sr, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return Path(path)
