"""The rows app.core.catalog reads and writes, as plain values (re-exported there)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class FileState:
    """What the catalog remembers about one file (to decide whether to re-index it)."""

    track_id: int
    size: int
    mtime_ns: int
    status: str
    model_id: str | None
    fingerprint: str | None = None


@dataclass(frozen=True)
class TrackRecord:
    """One indexed (or failed) file, ready to be written.

    ``windows`` is ``(n, 256)`` block-normalised; ``track`` is ``(256,)``. Both None when
    ``error`` is set.
    """

    path: str
    size: int
    mtime_ns: int
    duration_s: float | None = None
    tags: dict[str, object] | None = None
    model_id: str | None = None
    track: np.ndarray | None = None
    windows: np.ndarray | None = None
    padded: bool = False
    error: str = ""
    fingerprint: str | None = None
    measured_bpm: float | None = None  # from the audio (model.measure); wins over a tag BPM
    loudness_lufs: float | None = None

    def bpm(self) -> tuple[float | None, str]:
        """The BPM to store and where it came from: the audio's, else the tag's."""
        if self.measured_bpm is not None:
            return self.measured_bpm, "audio"
        tag = (self.tags or {}).get("bpm")
        return (None, "") if tag is None else (float(tag), "tag")  # type: ignore[arg-type]


@dataclass(frozen=True)
class Relink:
    """Give the row (and vectors) of ``track_id`` to the file now at ``path``."""

    track_id: int
    path: str
    size: int
    mtime_ns: int
    fingerprint: str


@dataclass(frozen=True)
class TrackTable:
    """Track-level vectors of one model plus the columns the search filters use."""

    ids: np.ndarray  # (N,) int64
    vectors: np.ndarray  # (N, 256) float16, each block L2-normalised
    n_windows: np.ndarray  # (N,) int32
    duration_s: np.ndarray  # (N,) float32, NaN unknown
    bpm: np.ndarray  # (N,) float32, NaN unknown
    paths: list[str]
    albums: list[str]
    fingerprints: list[str | None] = field(default_factory=list)  # empty: unknown

    def __len__(self) -> int:
        return int(self.ids.shape[0])
