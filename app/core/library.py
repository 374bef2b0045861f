"""A searchable library: a catalog, the encoder that embedded it, and a search engine.

Public API (what the CLI and app.services use)::

    library = Library(Catalog.open(db), Encoder.load(model))
    query = library.prepare_query("temp.wav", start_s=42, end_s=58)   # decodes + embeds once
    results = library.search(query, SearchWeights(genre=1, tempo=0.2), k=20, filters=...)
    library.search(query, other_weights)          # slider move: cheap re-rank, no re-embed
    for _ in library.prepare_moves(query, weights, k=20, filters=...): ...  # moves ahead (in steps)
    library.reload()                              # after indexing or a sync: (added, dropped) tracks

The track vectors come through a local cache next to the catalog (app.core.vector_cache),
held in memory and synced by the catalog's change counter on every (re)load; for a
studio catalog on PostgreSQL the file is in this user's data dir (``catalog.cache_base``),
so every editor searches a local copy at the local catalog's latency.
Only vectors made by the encoder's model are searched (``model_id``); tracks embedded by
another model are counted by ``stale_count`` and re-embedded by the next index run.
Mix-and-match and multi-query: build several queries with ``prepare_query`` and pass them
through ``app.core.query.mix_queries`` / ``combine_queries``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from app.core.alignment import split_phases
from app.core.auto_tags import TagQueryError
from app.core.catalog import Catalog
from app.core.diversity import OVERFETCH, diversify
from app.core.fingerprint import fingerprint_or_none
from app.core.query import Query, SearchError, query_from_windows
from app.core.refine import band_patterns
from app.core.search import SearchEngine
from app.core.types import SearchFilters, SearchResult, SearchWeights
from app.core.vector_cache import VectorCache, cache_path

if TYPE_CHECKING:
    from model.encoder import Encoder


class Library:
    def __init__(
        self,
        catalog: Catalog,
        encoder: Encoder,
        *,
        flat_limit: int = 200_000,
        candidates: int = 200,
    ) -> None:
        self.catalog = catalog
        self.encoder = encoder
        self._options = {"flat_limit": flat_limit, "candidates": candidates}
        self._engine: SearchEngine | None = None
        self._vectors: VectorCache | None = None  # kept across reloads: a sync reads only changes
        self._lock = threading.Lock()
        self._query_fingerprints: dict[str, str | None] = {}  # clip path -> its content

    @property
    def model_id(self) -> str:
        return str(self.encoder.model_id)

    @property
    def engine(self) -> SearchEngine:
        """The engine over the catalog's vectors (loaded on first use)."""
        engine = self._engine
        if engine is None:
            with self._lock:
                engine = self._engine
                if engine is None:
                    engine = self._engine = self._build()
        return engine

    def reload(self) -> tuple[int, int]:
        """Load the catalog's current vectors (after indexing) into a new engine, or keep the
        engine when nothing changed (a sync that finds nothing new costs milliseconds).

        Returns ``(added, dropped)``: how many tracks became searchable and how many left
        (``(0, 0)`` on the first load too: no search saw a library before it). The old
        engine keeps answering searches from other threads until the new one is built
        (above ``flat_limit`` that can take minutes when the IVF must be rebuilt).
        """
        with self._lock:
            before = self._engine
            self._engine = after = self._build()
        if before is None or after is before:
            return 0, 0
        if self._vectors is not None and self._vectors.grown_from is before.table:
            return len(after.table) - len(before.table), 0  # rows only appended: no set difference
        added = int(np.setdiff1d(after.table.ids, before.table.ids, assume_unique=True).size)
        return added, len(before.table) + added - len(after.table)

    def _build(self) -> SearchEngine:
        model_id = self.model_id
        if self._vectors is None or self._vectors.model_id != model_id:
            self._vectors = VectorCache(cache_path(self.catalog.cache_base, model_id), model_id)
        table = self._vectors.sync(self.catalog)
        if self._engine is not None and self._engine.table is table:
            return self._engine  # nothing changed: the engine and its per-query work stay
        windows, infos = self.catalog.search_sources(model_id)
        return SearchEngine(
            table,
            windows,
            infos,
            index_cache=f"{self.catalog.cache_base}.{model_id}",
            tags=self.encoder.info.tags,
            previous=self._grown_engine(),
            **self._options,
        )

    def _grown_engine(self) -> SearchEngine | None:
        """The current engine when the new table only adds rows to its table (its index is
        then extended, not rebuilt: minutes at 1M tracks)."""
        engine, vectors = self._engine, self._vectors
        if engine is not None and vectors is not None and vectors.grown_from is engine.table:
            return engine
        return None

    def __len__(self) -> int:
        return len(self.engine)

    def stale_count(self) -> int:
        """Tracks whose vectors come from another model (need re-indexing to be searched)."""
        counts = self.catalog.model_counts()
        return sum(n for model, n in counts.items() if model != self.model_id)

    def prepare_query(
        self,
        source: str | os.PathLike[str] | np.ndarray,
        start_s: float | None = None,
        end_s: float | None = None,
    ) -> Query:
        """Decode (a region of) a clip, or take 22 050 Hz mono samples, and embed it once."""
        from model.audio import SAMPLE_RATE, AudioError, load_audio

        if start_s is not None and start_s < 0:
            raise SearchError("--start must be >= 0")
        if start_s is not None and end_s is not None and end_s <= start_s:
            raise SearchError("the query region's end must be after its start")
        path = ""
        if isinstance(source, np.ndarray):
            samples = np.asarray(source, dtype=np.float32).reshape(-1)
            first = int(round((start_s or 0.0) * SAMPLE_RATE))
            last = None if end_s is None else int(round(end_s * SAMPLE_RATE))
            samples = samples[first:last]
        else:
            path = os.path.abspath(os.fspath(source))
            self._query_fingerprints[path] = fingerprint_or_none(path)  # read once, not per re-rank
            duration = None if end_s is None else end_s - (start_s or 0.0)
            try:
                samples = load_audio(path, offset_s=start_s or 0.0, duration_s=duration)
            except AudioError as exc:
                raise SearchError(f"cannot read query: {exc}") from None
        if samples.size == 0:
            raise SearchError("the query region holds no audio")
        phases = split_phases(samples)
        if not phases:  # shorter than one window: padded, nothing to align
            embedding = self.encoder.embed_samples(samples)
            return query_from_windows(embedding.windows, path, bool(embedding.padded))
        # One encoder call for every phase; phase 0 is the clip's own window grid.
        vectors = self.encoder.embed_windows(np.concatenate(phases))
        parts = np.split(vectors, np.cumsum([len(p) for p in phases])[:-1])
        return query_from_windows(parts[0], path, False, parts, band_patterns(samples))

    def search(
        self,
        query: Query | None,
        weights: SearchWeights | Sequence[float] | None = None,
        k: int = 10,
        filters: SearchFilters | None = None,
        *,
        exclude_query_files: bool = True,
        exclude_query_albums: bool = False,
    ) -> list[SearchResult]:
        """Rank the library for ``query`` and/or ``filters.tags`` (tag words; ``query`` may
        then be None); the query's own files are left out by default.

        "Own" is by content: the clip's path, any path to the same file (a symlink, a
        bind mount) and every exact copy of it in the library.
        """
        filters = filters or SearchFilters()
        tag_groups, _unknown = self.parse_tags(filters.tags)
        if query is None:
            return self._ranked(None, weights, k, filters, tag_groups)
        filters = self._own_files_left_out(query, filters, exclude_query_files, exclude_query_albums)
        return self._ranked(query, weights, k, filters, tag_groups)

    def prepare_moves(
        self, query: Query,
        weights: SearchWeights | Sequence[float] | Callable[[], SearchWeights | Sequence[float]] | None = None,
        k: int = 10,
        filters: SearchFilters | None = None, *, exclude_query_files: bool = True,
        exclude_query_albums: bool = False,
    ) -> Iterator[int]:
        """After ``search`` with these arguments: compute ahead what slider moves will need
        (``SearchEngine.prepare_moves``; a generator, rows prepared so far). Nothing is
        prepared for tag words."""
        filters = filters or SearchFilters()
        if filters.tags.strip():
            return 0
        filters = self._own_files_left_out(query, filters, exclude_query_files, exclude_query_albums)
        k = OVERFETCH * k if filters.max_per_group else k
        return (yield from self.engine.prepare_moves(query, weights or SearchWeights(), k, filters))

    def _own_files_left_out(
        self, query: Query, filters: SearchFilters, files: bool, albums: bool
    ) -> SearchFilters:
        """``filters`` that also leave out the query's own files (by content) and, with
        ``albums``, their albums."""
        if files and query.paths:
            contents = {self._fingerprint_of(path) for path in query.paths} - {None}
            filters = replace(
                filters,
                exclude_paths=filters.exclude_paths | set(query.paths),
                exclude_fingerprints=filters.exclude_fingerprints | contents,  # type: ignore[operator]
            )
        if albums and query.paths:
            found = {self._album_of(path) for path in query.paths} - {""}
            filters = replace(filters, exclude_albums=filters.exclude_albums | found)
        return filters

    def _ranked(
        self, query: Query | None, weights: SearchWeights | Sequence[float] | None, k: int,
        filters: SearchFilters, tag_groups: list[list[int]],
    ) -> list[SearchResult]:
        """The engine's ranking, made diverse (app.core.diversity) when the filters ask."""
        if not filters.max_per_group:
            return self.engine.search(query, weights or SearchWeights(), k, filters, tag_groups)
        ranked = self.engine.search(query, weights or SearchWeights(), OVERFETCH * k, filters, tag_groups)
        return diversify(ranked, filters.max_per_group, k)

    @property
    def has_tags(self) -> bool:
        """Whether the model carries an auto-tag head (tags, tag search, instrumental filter)."""
        return self.encoder.info.tags is not None

    def parse_tags(self, text: str) -> tuple[list[list[int]], list[str]]:
        """Tag words -> ``tag_groups`` for ``search``, and the words that matched no tag."""
        if not text.strip():
            return [], []
        try:
            return self.engine.tags.parse(text)
        except TagQueryError as exc:
            raise SearchError(str(exc)) from None

    def _fingerprint_of(self, path: str) -> str | None:
        if path not in self._query_fingerprints:
            self._query_fingerprints[path] = fingerprint_or_none(path)
        return self._query_fingerprints[path]

    def _album_of(self, path: str) -> str:
        info = self.catalog.find_track(path)
        if info is not None:
            return info.album
        from app.core.tags import read_tags

        return str(read_tags(path)["album"])
