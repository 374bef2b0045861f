"""Fake core backends and a PortAudio-free player for service and UI tests.

They satisfy the protocols in app/services/backends.py; the services and widgets around
them are the real ones.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from app.core.model_registry import write_card
from app.core.player import DecodeCache, Player
from app.core.projection import project
from app.core.types import (
    DIMENSIONS,
    Progress,
    SearchFilters,
    SearchResult,
    SearchWeights,
    TrackInfo,
)
from app.services.backends import MapData, TrainOutcome, TrainRequest, TrainUpdate

SR = 22050


def write_tone(path: Path, seconds: float, freq: float = 440.0, loud_from: float | None = None) -> Path:
    """A sine (quiet, then loud from ``loud_from`` s with clicks) written as 16-bit WAV."""
    t = np.arange(int(seconds * SR)) / SR
    x = 0.05 * np.sin(2 * np.pi * freq * t)
    if loud_from is not None:
        loud = t >= loud_from
        x[loud] = 0.6 * np.sin(2 * np.pi * freq * t[loud])
        clicks = loud & (np.arange(t.size) % (SR // 4) < 200)
        x[clicks] = 0.9
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, x.astype(np.float32), SR, subtype="PCM_16")
    return path


def read_audio(path: str) -> np.ndarray:
    x, sr = sf.read(path, dtype="float32", always_2d=True)
    assert sr == SR, "tests write 22.05 kHz files"
    return x.mean(axis=1)


@dataclass(frozen=True)
class FakeQuery:
    path: str
    region: tuple[float, float] | None
    references: tuple[str, ...] = ()


class FakeSearch:
    """A library whose per-dimension similarities are given, so rankings are predictable."""

    def __init__(self, tracks: dict[str, dict[str, float]], root: Path, delay_s: float = 0.0) -> None:
        self.available, self.reason = True, ""
        self.delay_s = delay_s
        self.prepared: list[FakeQuery] = []
        self.tracks = [
            (TrackInfo(i + 1, str(root / f"{name}.wav"), title=name, artist="Fake", duration_s=120.0,
                       bpm=90.0 + 10 * i), dims)
            for i, (name, dims) in enumerate(tracks.items())
        ]

    def prepare_query(self, path: str, region: tuple[float, float] | None) -> FakeQuery:
        time.sleep(self.delay_s)
        query = FakeQuery(path, region)
        self.prepared.append(query)
        return query

    def combine(self, base: FakeQuery, references: dict[str, Any]) -> FakeQuery:
        return FakeQuery(base.path, base.region, tuple(sorted(references)))

    def search(self, query: FakeQuery, weights: SearchWeights, k: int, filters: SearchFilters) -> list[SearchResult]:
        w = weights.as_tuple()
        out = []
        for info, dims in self.tracks:
            if info.path in filters.exclude_paths:
                continue
            if filters.bpm_min is not None and (info.bpm or 0) < filters.bpm_min:
                continue
            if filters.bpm_max is not None and (info.bpm or 0) > filters.bpm_max:
                continue
            score = sum(wi * dims[d] for wi, d in zip(w, DIMENSIONS, strict=True))
            out.append(SearchResult(info, score, 12.5 + info.track_id, dict(dims)))
        out.sort(key=lambda r: -r.score)
        return out[:k]


class FakeLibrary:
    """Indexing that takes ``steps`` × ``step_s`` seconds and can be cancelled between yields."""

    def __init__(self, search: FakeSearch, steps: int = 20, step_s: float = 0.02) -> None:
        self.search = search
        self.steps, self.step_s = steps, step_s
        self.indexed = 0
        self.closed = threading.Event()
        self.failed = [("/music/broken.mp3", "not an audio file (unknown format)")]

    def index(self, folders: Sequence[str]) -> Iterator[Progress]:
        try:
            for i in range(self.steps):
                time.sleep(self.step_s)
                self.indexed = i + 1
                yield Progress(i + 1, self.steps, f"indexed {i + 1}/{self.steps} files, 150x real time",
                               rate=150.0, eta_s=(self.steps - i - 1) * self.step_s)
        finally:
            self.closed.set()

    def track_count(self) -> int:
        return len(self.search.tracks) if self.indexed else 0

    def failed_tracks(self) -> list[tuple[str, str]]:
        return list(self.failed)

    def track_map(self, dimension: str, query: Any = None) -> MapData:
        rng = np.random.default_rng(0)
        infos = [info for info, _ in self.search.tracks]
        proj = project(rng.normal(size=(len(infos) + 1, 256)).astype(np.float32), None if dimension == "all" else dimension)
        query_xy = tuple(float(v) for v in proj.xy[-1]) if query is not None else None
        return MapData(infos, proj.xy[:-1], proj.clusters[:-1], proj.method, dimension, query_xy)


class FakeTraining:
    def __init__(self, epochs_s: float = 0.01) -> None:
        self.epoch_s = epochs_s
        self.keep_best_on_cancel = True

    def summarize(self, source: str, mode: str) -> dict[str, dict[str, int]]:
        return {"genre": {"rock": 3, "jazz": 2}, "tempo": {"with BPM": 5}}

    def fit(self, request: TrainRequest) -> Iterator[TrainUpdate]:
        acc: dict[str, float] = {}
        try:
            for epoch in range(1, request.epochs + 1):
                time.sleep(self.epoch_s)
                acc = {d: 0.5 + 0.04 * epoch + 0.01 * i for i, d in enumerate(DIMENSIONS)}
                yield TrainUpdate(epoch, request.epochs, 1.0 / epoch, acc, (request.epochs - epoch) * self.epoch_s)
        except GeneratorExit:  # like CoreTraining: a cancelled run keeps its best epoch
            if acc and self.keep_best_on_cancel:
                Path(request.output).write_bytes(b"fake model")
                write_card(Path(request.output), {"validation_before": {d: 0.5 for d in DIMENSIONS},
                                                  "validation_after": acc, "cancelled": True})
            raise
        Path(request.output).write_bytes(b"fake model")
        before = {d: 0.5 for d in DIMENSIONS}
        return TrainOutcome(request.output, before, acc, {"epochs": request.epochs})


class SilentPlayer(Player):
    """The real Player with its PortAudio stream replaced by nothing (UI tests run headless).

    Position still moves only through play/seek, which is what the UI tests assert on.
    """

    def __init__(self) -> None:
        super().__init__(DecodeCache(read_audio))
        self.available, self.reason = True, ""

    def _ensure_stream(self) -> bool:
        return True
