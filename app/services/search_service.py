"""Query → results. Embedding a new query runs on the encode pool; slider and filter
changes re-rank synchronously on the cached prepared query (no spinner, house rule 3:
results of superseded requests are dropped by request id).

Once a query's results are shown, a backend that offers ``prepare_moves`` (the core's:
app.core.moves ``SearchEngine.prepare_moves``, a generator of steps of a few ms) computes
ahead what slider moves of that query will need, so that a move only re-ranks kept numbers.
It runs on the GUI thread in slices of ``PREPARE_SLICE_S`` while the event loop is idle (a
zero-interval timer), like the re-rank it serves: a slider event waits at most one slice,
and the work never competes with a move for a core or the GIL (on a loaded 2-core machine a
worker thread doing it made moves slower than doing nothing ahead: 100k-track bench, wall
p95 40-57 ms against 22-50 ms in slices). A new query, region, filters or backend stop it;
the search that follows starts it again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from PySide6.QtCore import QObject, QTimer, Signal

from app.core import export, waveform
from app.core.scanner import AUDIO_EXTENSIONS
from app.core.types import DIMENSIONS, SearchFilters, SearchResult, SearchWeights
from app.services.backends import SearchBackend
from app.services.workers import ErrorSink, GeneratorWorker, Pools

log = logging.getLogger(__name__)

PEAK_BINS = 1200  # waveform columns sent to the UI (enough for a 1440-px wide screen)
PREPARE_SLICE_S = 0.004  # GUI-thread time per idle slice of preparing slider moves (module doc)
# A temp track often comes as the cut's video: its soundtrack is decoded (model.av_formats).
VIDEO_SUFFIXES = frozenset(".mov .mp4 .m4v .mkv .webm .mxf .avi".split())
QUERY_SUFFIXES = AUDIO_EXTENSIONS | VIDEO_SUFFIXES  # what the Open dialog lists as a clip


@dataclass(frozen=True)
class QueryInfo:
    path: str
    duration_s: float
    peaks_lo: np.ndarray
    peaks_hi: np.ndarray
    region: tuple[float, float]


class SearchService(QObject):
    query_loading = Signal(str)
    query_loaded = Signal(object)  # QueryInfo
    results_changed = Signal(list)  # list[SearchResult]
    reference_changed = Signal(str, str)  # dimension, path ('' = the main query)
    busy_changed = Signal(bool)
    backend_changed = Signal()  # another model or library: what it offers (e.g. tags) may differ
    moves_prepared = Signal(int)  # slider moves of the shown query prepared ahead (tracks done)

    def __init__(
        self,
        backend: SearchBackend,
        pools: Pools,
        errors: ErrorSink,
        loader: Callable[[str], np.ndarray],
        k: int = 50,
    ) -> None:
        super().__init__()
        self.backend = backend
        self._pools = pools
        self._errors = errors
        self._loader = loader
        self.k = k
        self.weights = SearchWeights()
        self.filters = SearchFilters()
        self.query: QueryInfo | None = None
        self.results: list[SearchResult] = []
        self._prepared: Any = None  # the main query, prepared by the backend
        self._references: dict[str, tuple[str, Any]] = {}  # dimension -> (path, prepared)
        self._request = 0
        self._effective: Any = None  # the query last searched (mix-and-match applied)
        self._effective_key: object = None
        self._preparing: Iterator[int] | None = None  # prepare_moves for the search below
        self._prepared_for: tuple[Any, SearchFilters, int] | None = None
        self._prepare_timer = QTimer(self)
        self._prepare_timer.setInterval(0)
        self._prepare_timer.timeout.connect(self._prepare_slice)

    @property
    def prepared_query(self) -> Any:
        """The engine's query object as last searched (opaque; the map projects it), mix-and-match
        applied; the same object until the query or a reference changes."""
        return self._effective if self._effective is not None else self._prepared

    @property
    def available(self) -> bool:
        return bool(self.backend.available)

    @property
    def tags_available(self) -> bool:
        """Whether the model has auto-tags (tag words, the instrumental filter, a Tags column)."""
        return bool(getattr(self.backend, "tags_available", False))

    @property
    def unavailable_reason(self) -> str:
        return self.backend.reason

    def set_backend(self, backend: SearchBackend) -> None:
        """Swap the engine (model switched or re-indexed) and re-run the current query."""
        self.backend = backend
        self._prepared, self._references = None, {}
        self.stop_preparing()
        self.backend_changed.emit()
        if self.query is not None:
            self.set_region(*self.query.region)

    # -- new queries (worker) -------------------------------------------------------------
    def load_query(self, path: str, region: tuple[float, float] | None = None) -> int:
        """Decode ``path``, select ``region`` (default: its best), embed it and search; returns the request id."""
        self._request += 1
        request = self._request
        self.stop_preparing()  # the shown query's moves: the new query's embedding comes first
        self.query_loading.emit(path)
        self.busy_changed.emit(True)
        worker = GeneratorWorker(self._load_job, path, region, task="loading the query")
        worker.signals.finished.connect(lambda out, r=request: self._on_loaded(r, out))
        worker.signals.errored.connect(lambda msg, r=request: self._on_failed(r, msg))
        self._pools.start("encode", worker)
        return request

    def set_region(self, start_s: float, end_s: float) -> int:
        """Match a different part of the query (re-embeds only that region)."""
        if self.query is None:
            return self._request
        self._request += 1
        request = self._request
        self.stop_preparing()
        self.query = replace(self.query, region=(start_s, end_s))
        self.busy_changed.emit(True)
        worker = GeneratorWorker(self._prepare_job, self.query.path, (start_s, end_s), task="embedding the query")
        worker.signals.finished.connect(lambda out, r=request: self._on_prepared(r, out))
        worker.signals.errored.connect(lambda msg, r=request: self._on_failed(r, msg))
        self._pools.start("encode", worker)
        return request

    def set_reference(self, dimension: str, path: str | None) -> None:
        """Mix-and-match: take ``dimension`` from another clip (None = back to the main query)."""
        if dimension not in DIMENSIONS:
            raise ValueError(dimension)
        if not path:
            self._references.pop(dimension, None)
            self.reference_changed.emit(dimension, "")
            self.rerank()
            return
        worker = GeneratorWorker(self._reference_job, path, task="loading the reference clip")
        worker.signals.finished.connect(lambda out, d=dimension, p=path: self._on_reference(d, p, out))
        worker.signals.errored.connect(self._errors.report)
        self._pools.start("encode", worker)

    def _load_job(self, path: str, region: tuple[float, float] | None) -> tuple[QueryInfo, Any]:
        samples = self._loader(path)
        duration = len(samples) / waveform.SAMPLE_RATE
        lo, hi = waveform.peaks(samples, PEAK_BINS)
        region = region or waveform.best_region(samples)
        info = QueryInfo(path, duration, lo, hi, region)
        prepared = self.backend.prepare_query(path, region) if self.backend.available else None
        return info, prepared

    def _prepare_job(self, path: str, region: tuple[float, float]) -> Any:
        return self.backend.prepare_query(path, region) if self.backend.available else None

    def _reference_job(self, path: str) -> Any:
        samples = self._loader(path)
        return self.backend.prepare_query(path, waveform.best_region(samples))

    def _on_loaded(self, request: int, out: tuple[QueryInfo, Any]) -> None:
        if request != self._request:
            return  # a newer query superseded this one
        self.query, self._prepared = out
        self.query_loaded.emit(self.query)
        self._finish(request)

    def _on_prepared(self, request: int, prepared: Any) -> None:
        if request != self._request:
            return
        self._prepared = prepared
        self._finish(request)

    def _on_reference(self, dimension: str, path: str, prepared: Any) -> None:
        self._references[dimension] = (path, prepared)
        self.reference_changed.emit(dimension, path)
        self.rerank()

    def _on_failed(self, request: int, message: str) -> None:
        if request == self._request:
            self.busy_changed.emit(False)
            self._errors.report(message)

    def _finish(self, request: int) -> None:
        self.busy_changed.emit(False)
        if not self.backend.available:
            self._errors.notice(self.backend.reason)
        self.rerank()

    # -- re-ranking (synchronous, GUI thread) ---------------------------------------------
    def set_weights(self, weights: SearchWeights) -> None:
        self.weights = weights
        self.rerank()

    def set_filters(self, filters: SearchFilters) -> None:
        self.filters = filters
        self.rerank()

    def rerank(self) -> None:
        """Search the cached query (or, with no query, the tag words) with the current weights
        and filters (milliseconds)."""
        if not self.backend.available or (self._prepared is None and not self.filters.tags):
            return
        if self.weights.is_zero:
            self.results = []
            self.results_changed.emit(self.results)
            return
        query = self._prepared
        if query is not None and self._references:
            key = (id(query), tuple((d, id(p)) for d, (_path, p) in sorted(self._references.items())))
            if key != self._effective_key:  # combine once per change, not on every slider tick
                combined = self.backend.combine(query, {d: p for d, (_path, p) in self._references.items()})
                self._effective, self._effective_key = combined, key
            query = self._effective
        else:
            self._effective, self._effective_key = query, None
        filters = self.filters
        if self.query is not None:
            filters = replace(filters, exclude_paths=filters.exclude_paths | {self.query.path})
        try:
            self.results = self.backend.search(query, self.weights, self.k, filters)
        except Exception as exc:  # noqa: BLE001 - report, keep the old results on screen
            log.exception("search failed")
            self._errors.report(f"Search failed ({exc}); details are in the log file.")
            return
        self.results_changed.emit(self.results)
        self._prepare_moves(query, filters)

    def _prepare_moves(self, query: Any, filters: SearchFilters) -> None:
        """After a search: prepare slider moves of this query and filters in idle slices (once
        per query, filters and k; where the sliders are only orders the work)."""
        job = getattr(self.backend, "prepare_moves", None)
        if job is None or query is None:
            return
        prepared_for = self._prepared_for
        if prepared_for is not None and prepared_for[0] is query and prepared_for[1:] == (filters, self.k):
            return
        self.stop_preparing()
        self._prepared_for = (query, filters, self.k)
        self._preparing = job(query, lambda: self.weights, self.k, filters)  # the sliders' now
        self._prepare_timer.start()

    def _prepare_slice(self) -> None:
        """Steps of the prepare job until ``PREPARE_SLICE_S`` has passed (each step is a few ms)."""
        end = time.perf_counter() + PREPARE_SLICE_S
        try:
            while self._preparing is not None and time.perf_counter() < end:
                next(self._preparing)
        except StopIteration as finished:
            self._end_preparing()
            self.moves_prepared.emit(int(finished.value or 0))
        except Exception as exc:  # noqa: BLE001 - report; moves still work, unprepared
            log.exception("preparing slider moves failed")
            self._end_preparing()
            self._errors.report(f"Preparing slider moves failed ({exc}); details are in the log file.")

    def _end_preparing(self) -> None:
        self._prepare_timer.stop()
        if self._preparing is not None:
            self._preparing.close()
        self._preparing = None

    @property
    def preparing(self) -> bool:
        """Whether slider moves of the shown query are being prepared now."""
        return self._preparing is not None

    def library_changed(self, *_args: object) -> None:
        """The library's engine was rebuilt (an index run, a sync that found tracks): what is
        being prepared is for the old one, which it keeps in memory. Stop; the next search
        (on the new engine) prepares again."""
        self.stop_preparing()

    def stop_preparing(self) -> None:
        """Stop preparing slider moves (another query, region or backend comes); what was
        prepared stays in the backend until another query is prepared."""
        self._end_preparing()
        self._prepared_for = None

    def export(self, path: str) -> str:
        """Write the current results as CSV or M3U (by extension); returns the path written."""
        return str(export.write(self.results, path))
