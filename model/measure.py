"""BPM and loudness of a track, measured while it is decoded (streaming, bounded memory).

    meter = TrackMeter(rate)            # SAMPLE_RATE, or twice it (the indexer's native 44.1 kHz)
    for block in stream_audio(path):   # or once with the whole decoded track
        meter.update(block)
    meter.bpm(), meter.loudness_lufs()

Each measure keeps only small per-frame summaries (one mel-flux value per 23 ms, one power
per 100 ms: 0.5 MB for a 2-hour file), so it can follow a stream of any length.
"""

from __future__ import annotations

import numpy as np

from model.audio import HOP_LENGTH, SAMPLE_RATE
from model.bpm import bpm_from_envelope, log_mel_frames
from model.loudness import loudness_from_powers, segment_powers, segment_samples


class _Framer:
    """Cuts a stream of samples into whole frames of ``size``, keeping the remainder."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.rest = np.zeros(0, np.float32)

    def frames(self, block: np.ndarray) -> np.ndarray:
        data = np.concatenate([self.rest, block]) if self.rest.size else block
        n = data.size // self.size
        self.rest = data[n * self.size :].copy()
        return data[: n * self.size].reshape(n, self.size)


class TrackMeter:
    """Accumulates a track's onset envelope and loudness segment powers."""

    def __init__(self, rate: int = SAMPLE_RATE) -> None:
        if rate not in (SAMPLE_RATE, 2 * SAMPLE_RATE):
            raise ValueError(f"TrackMeter measures {SAMPLE_RATE} or {2 * SAMPLE_RATE} Hz audio, not {rate}")
        self.rate = rate
        self._beat_frames = _Framer(HOP_LENGTH * rate // SAMPLE_RATE)  # same frame rate at both
        self._loud_frames = _Framer(segment_samples(rate))
        self._last_mel: np.ndarray | None = None
        self._flux: list[np.ndarray] = []
        self._powers: list[np.ndarray] = []

    def update(self, block: np.ndarray) -> None:
        """Feed the next block of mono ``SAMPLE_RATE`` samples."""
        block = np.asarray(block, dtype=np.float32).reshape(-1)
        frames = self._beat_frames.frames(block)
        if len(frames):
            mel = log_mel_frames(frames)
            if self._last_mel is not None:
                mel = np.vstack([self._last_mel, mel])
            self._flux.append(np.maximum(np.diff(mel, axis=0), 0.0).mean(axis=1))
            self._last_mel = mel[-1:]
        segments = self._loud_frames.frames(block)
        if len(segments):
            self._powers.append(segment_powers(segments, self.rate))

    def bpm(self) -> float | None:
        return bpm_from_envelope(np.concatenate(self._flux)) if self._flux else None

    def loudness_lufs(self) -> float | None:
        return loudness_from_powers(np.concatenate(self._powers)) if self._powers else None


def measure(samples: np.ndarray) -> tuple[float | None, float | None]:
    """``(bpm, loudness_lufs)`` of a whole decoded track."""
    meter = TrackMeter()
    meter.update(samples)
    return meter.bpm(), meter.loudness_lufs()
