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

from app.core.catalog import TrackTable
from app.core.model_registry import write_card
from app.core.player import DecodeCache, Player
from app.core.projection import project
from app.core.query import Query, mix_queries, query_from_windows
from app.core.search import SearchEngine
from app.core.types import (
    DIMENSIONS,
    Progress,
    SearchFilters,
    SearchResult,
    SearchWeights,
    TrackInfo,
)
from app.services.backends import MapData, TrainOutcome, TrainRequest, TrainUpdate
from model.audio import WINDOW_SECONDS
from model.dimensions import BLOCK_SIZE, EMBEDDING_SIZE, normalize_blocks

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
    query: Query  # the real search reference (a unit vector per block)
    references: tuple[str, ...] = ()


N_WINDOWS = 12  # windows per synthetic track (35.7 s)


def _synthetic_vectors(cosines: Sequence[float], track: int, best_window: int) -> np.ndarray:
    """``(N_WINDOWS, 256)`` block-normalised windows whose block ``d`` has cosine
    ``cosines[d]`` with the query (``e_0`` in every block) at ``best_window``, less elsewhere.

    The rest of each block points along a direction of its own per track, so tracks are
    never parallel and the real engine ranks exactly by the given cosines.
    """
    windows = np.zeros((N_WINDOWS, len(DIMENSIONS), BLOCK_SIZE), np.float32)
    for j in range(N_WINDOWS):
        for d, c in enumerate(cosines):
            c = c if j == best_window else max(-1.0, c - 0.3)
            windows[j, d, 0] = c
            windows[j, d, 1 + track] = np.sqrt(1.0 - c * c)
    return windows.reshape(N_WINDOWS, EMBEDDING_SIZE)


class FakeSearch:
    """The real ``SearchEngine`` over synthetic vectors with given per-dimension cosines.

    Only decoding and embedding are faked (a query is the unit vector ``e_0`` per block):
    ranking, weights, filters and offsets are the engine's own, so service and UI tests
    check real search behaviour. Track ``i`` matches best at window ``i + 1``.
    """

    def __init__(self, tracks: dict[str, dict[str, float]], root: Path, delay_s: float = 0.0) -> None:
        self.available, self.reason = True, ""
        self.delay_s = delay_s
        self.prepared: list[FakeQuery] = []
        self.tracks = [
            (TrackInfo(i + 1, str(root / f"{name}.wav"), title=name, artist="Fake",
                       duration_s=N_WINDOWS * WINDOW_SECONDS, bpm=90.0 + 10 * i), dims)
            for i, (name, dims) in enumerate(tracks.items())
        ]  # fmt: skip
        windows = {
            info.track_id: _synthetic_vectors([dims[d] for d in DIMENSIONS], i, i + 1).astype(np.float16)
            for i, (info, dims) in enumerate(self.tracks)
        }
        infos = {info.track_id: info for info, _ in self.tracks}
        n = len(self.tracks)
        table = TrackTable(
            ids=np.array(list(infos), np.int64),
            vectors=np.stack([normalize_blocks(w.astype(np.float32).mean(0)) for w in windows.values()]).astype(np.float16),
            n_windows=np.full(n, N_WINDOWS, np.int32),
            duration_s=np.array([i.duration_s for i in infos.values()], np.float32),
            bpm=np.array([i.bpm for i in infos.values()], np.float32),
            paths=[i.path for i in infos.values()],
            albums=[i.album for i in infos.values()],
        )
        # Segment evidence only (track_weight 0): the given cosines are the best window's, and
        # the UI tests read them back exactly; the blend with track vectors is tested in core.
        self.engine = SearchEngine(
            table, lambda ids: {i: windows[i] for i in ids}, lambda ids: {i: infos[i] for i in ids},
            track_weight=0.0,
        )

    def prepare_query(self, path: str, region: tuple[float, float] | None) -> FakeQuery:
        time.sleep(self.delay_s)
        unit = np.zeros((1, len(DIMENSIONS), BLOCK_SIZE), np.float32)
        unit[:, :, 0] = 1.0
        query = FakeQuery(path, region, query_from_windows(unit.reshape(1, EMBEDDING_SIZE), path))
        self.prepared.append(query)
        return query

    def combine(self, base: FakeQuery, references: dict[str, Any]) -> FakeQuery:
        mixed = mix_queries(base.query, {d: r.query for d, r in references.items()})
        return FakeQuery(base.path, base.region, mixed, tuple(sorted(references)))

    def search(self, query: FakeQuery, weights: SearchWeights, k: int, filters: SearchFilters) -> list[SearchResult]:
        return self.engine.search(query.query, weights, k, filters)

    def prepare_moves(self, query: FakeQuery, weights: Any, k: int, filters: SearchFilters) -> Iterator[int]:
        return self.engine.prepare_moves(query.query, weights, k, filters)


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
