"""What the services need from the core, as small protocols (the real adapters live in
``core_backends.py``; UI tests inject fakes that satisfy these)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from app.core.types import (
    CatalogReport,
    Progress,
    SearchFilters,
    SearchResult,
    SearchWeights,
    TrackInfo,
)


class SearchBackend(Protocol):
    available: bool
    reason: str  # why search is unavailable ("no trained model is installed …")

    def prepare_query(self, path: str, region: tuple[float, float] | None) -> Any: ...

    def combine(self, base: Any, references: dict[str, Any]) -> Any:
        """Mix-and-match: dimension ``d`` of the result comes from ``references[d]``."""
        ...

    def search(
        self, query: Any, weights: SearchWeights, k: int, filters: SearchFilters
    ) -> list[SearchResult]: ...


@dataclass(frozen=True)
class SyncOutcome:
    """What a sync with a shared catalog changed in the library (``LibraryBackend.sync``)."""

    added: int  # tracks that became searchable
    count: int  # tracks in the library now
    failed: list[tuple[str, str]]  # as ``failed_tracks``


class LibraryBackend(Protocol):
    def index(self, folders: Sequence[str]) -> Iterator[Progress]: ...

    def sync(self) -> SyncOutcome | None:
        """Bring search up to the catalog that other machines write; None when nothing
        changed (milliseconds: one counter read)."""
        ...

    def check_catalog(self, stop: Callable[[], bool]) -> CatalogReport:
        """The catalog's integrity check, on a connection of its own; ``stop`` ends it early."""
        ...

    def track_count(self) -> int: ...

    def failed_tracks(self) -> list[tuple[str, str]]:
        """(path, reason) of each file that could not be indexed."""
        ...

    def track_map(self, dimension: str, query: Any = None) -> MapData:
        """2-D projection of the library's track vectors (``dimension`` or "all"); a prepared
        ``query`` is projected with them so the map can show where it lands."""
        ...


@dataclass(frozen=True)
class MapData:
    tracks: list[TrackInfo]
    xy: np.ndarray  # (n, 2) in [-1, 1]
    clusters: np.ndarray  # (n,)
    method: str  # "tsne" or "pca"
    dimension: str
    query_xy: tuple[float, float] | None = None  # where the query lands, when one was given


class DecodeCacheLike(Protocol):
    def get(self, path: str) -> np.ndarray | None: ...

    def load(self, path: str) -> np.ndarray: ...


class PlayerLike(Protocol):
    """What PlaybackService drives: ``app.core.player.Player`` (passed in by bootstrap, so the
    UI's import graph never reaches sounddevice)."""

    available: bool
    reason: str
    cache: DecodeCacheLike
    level_match: bool
    is_playing: bool
    position_s: float
    duration_s: float
    stream_active: bool

    def play(self, source: str, offset_s: float = 0.0, end_s: float | None = None) -> bool: ...

    def pause(self) -> None: ...

    def toggle(self) -> bool: ...

    def seek(self, position_s: float) -> None: ...

    def stop(self) -> None: ...

    def set_device(self, index: int | None) -> None: ...

    def output_devices(self) -> list[Any]: ...


@dataclass(frozen=True)
class TrainRequest:
    source: str  # folder or CSV path
    mode: str  # a label source of app.core.finetune: "tags", "folders", "csv", "label-free", "auto"
    epochs: int = 10
    device: str = "auto"
    output: str = ""  # model path to write (under the user's models dir)
    steps_per_epoch: int = 0  # 0: every training track once per epoch
    resume: bool = False  # continue the interrupted run that was writing ``output``


@dataclass(frozen=True)
class TrainUpdate:
    """One step of training as the dialog shows it."""

    epoch: int
    epochs: int
    loss: float | None = None
    val_accuracy: dict[str, float] = field(default_factory=dict)
    eta_s: float | None = None
    message: str = ""


@dataclass(frozen=True)
class TrainOutcome:
    model_path: str
    before: dict[str, float]
    after: dict[str, float]
    card: dict[str, object] = field(default_factory=dict)


class TrainingBackend(Protocol):
    def summarize(self, source: str, mode: str) -> dict[str, dict[str, int]]:
        """Counts per tag per dimension found in the source (shown before Start)."""
        ...

    def fit(self, request: TrainRequest) -> Iterator[TrainUpdate]:
        """Yields updates; returns a TrainOutcome (generator return value)."""
        ...


class UnavailableSearch:
    """Search backend used when no trained model is installed: says so, never pretends."""

    def __init__(self, reason: str) -> None:
        self.available = False
        self.reason = reason

    def prepare_query(self, path: str, region: tuple[float, float] | None) -> Any:
        raise RuntimeError(self.reason)

    def combine(self, base: Any, references: dict[str, Any]) -> Any:
        raise RuntimeError(self.reason)

    def search(self, query: Any, weights: SearchWeights, k: int, filters: SearchFilters) -> list[SearchResult]:
        return []
