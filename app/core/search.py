"""Slider-weighted, segment-aware search over track and window vectors.

Public API (the queries come from app.core.query)::

    Query                                  # what a clip (or clips) is looking for
    query_from_windows(windows, path="") -> Query    # from one clip's (m, 256) window vectors
    combine_queries([q1, q2, ...]) -> Query          # multi-query: several example clips
    mix_queries(base, {"tempo": q2, ...}) -> Query   # mix-and-match: a reference per dimension
    SearchEngine(table, windows, tracks_info, ...)   # built by app.core.library.Library
    engine.search(query, weights, k, filters) -> list[SearchResult]
    engine.prepare_moves(query, weights, k, filters) -> generator   # slider moves, computed ahead

How a track is scored (all vectors are block-L2-normalised, so a block dot product is a
cosine):
1. Track level (candidates): ``cos_d(query, track)`` for every track and dimension,
   exactly, or through an approximate index above ``flat_limit`` (see vector_index.py).
   The ``candidates`` best by ``sum_d w_d cos_d`` go on.
2. Segment level (the score; app.core.segments): the query covers ``m`` windows (its
   start/end region). For each candidate and each offset ``o`` (window grid, 2.97 s), the
   mean of the candidate's windows ``o .. o+m-1`` (block re-normalised, like a track vector)
   is compared with the query per dimension. The result's
   ``score = max_o sum_d w_d cos_d(o)``, ``offset_s`` is that ``o`` in seconds and
   ``dimensions`` are the ``cos_d`` there. A query cut from the middle of a library track
   on the window grid therefore finds that track, at that offset, with cos = 1 (tested).
   Span means rather than window-by-window pairs are meant to tolerate cuts off the grid;
   that depends on the model separating tracks and is not tested here (the tests'
   random-init network maps all music to nearly one direction).
3. Readable units: each cosine is calibrated against the library's spread of unrelated
   pairs (``app.core.calibration``: 0 = unrelated, 1 = identical). The result's ``score`` is
   the slider-weighted mean of the calibrated dimensions, maximised over offsets; the raw
   cosines and ``sum_d w_d cos_d`` stay on the result (``raw``, ``score_raw``). Because the
   map is affine per dimension, step 1 ranks with weights ``w_d / (1 - center_d)``, the same
   order as the calibrated sum before clipping.
4. Tag words (``tag_groups``, see ``app.core.auto_tags``): alone, tracks rank by how well
   their auto-tags match; with a clip, the score is the mean of the clip similarity and
   the tag match (the candidate stage ranks by the same mean, at track level; above
   ``flat_limit`` the tags re-rank the approximate candidate pool only).
5. Length must not decide the rank: the best of many offsets favours long tracks, a
   whole-track mean short ones. The best segment's cosines lose what their number of
   offsets explains by chance (app.core.chance, measured on this query's candidates), and
   the evidence per dimension blends that with the whole track,
   ``(1 - track_weight) * (cos_d(segment) - chance_d) + track_weight * cos_d(track)``
   (tests/app/core/test_length_bias.py); it is then calibrated as in 3.
6. A query from one clip also carries its windows at sub-window phases: the best
   ``max(RERANK_FACTOR * k, RERANK_MIN)`` candidates are aligned window by window (app.core.alignment),
   which replaces their segment evidence and places ``offset_s`` within a fraction of a
   window (scripts/bench_offsets.py measures it on real music).
7. A query from one clip also carries its band-energy pattern (app.core.refine): the top
   result's offset is then checked against its audio at the alignment's best few offsets
   and, when it is the same recording, placed to the 23-ms frame; when it is another
   recording, the next few results are checked, and one the audio confirms as the query's
   recording is promoted to the top and placed (a temp cut from a library track is that
   track, whatever its noise did to the window vectors).

Per query the engine caches (app.core.query_cache) the ``(N, 4)`` track cosines (above
``flat_limit``: the cosines of a candidate pool), each candidate's ``(offsets, 4)`` segment
cosines and its phase-aligned cosines (app.core.alignment.phase_cosines), so a slider move
(new weights, same query) is a few small products: it never searches the index again, and
only tracks new to the candidate list have their windows read. ``prepare_moves``
(app.core.moves), run after a search (the app runs it in idle slices), computes those
ahead, for every track that some setting of the sliders can bring into the candidates
(app.core.reachable), so that a move then reads nothing. A weight of 0 removes that
dimension's influence exactly: it multiplies that column by 0 everywhere.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from app.core.alignment import best_alignments, best_offsets, phase_hop_s
from app.core.auto_tags import LibraryTags, TagQueryError
from app.core.calibration import LibrarySpread, calibrate, scale
from app.core.catalog import TrackTable
from app.core.chance import chance_gain
from app.core.filters import TrackFilter
from app.core.moves import MovePreparation
from app.core.query import Query, SearchError
from app.core.query_cache import QueryState, align_phases
from app.core.ranking import result_order, slider_scores
from app.core.refine import MORE_CANDIDATES, PROMOTE_RANKS, SPACING_S, check, confirms, refine
from app.core.segments import segment_cosines
from app.core.types import DIMENSIONS, SearchFilters, SearchResult, SearchWeights, TrackInfo
from app.core.vector_index import VectorIndex
from model.audio import WINDOW_SECONDS
from model.dimensions import N_DIMS
from model.tags import TagModel

TRACK_WEIGHT = 0.5  # share of whole-track evidence in a result's score (the rest: best segment)
RERANK_FACTOR = 3  # with phase windows, the best 3k candidates are aligned and re-ranked,
RERANK_MIN = 30  # and at least 30: enough for app.core.chance to measure chance among them

WindowSource = Callable[[Sequence[int]], Mapping[int, np.ndarray]]  # ids -> (n, 256) each
InfoSource = Callable[[Sequence[int]], Mapping[int, TrackInfo]]


class SearchEngine(MovePreparation):
    """Searches one model's vectors. Build once per library load; call ``search`` often."""

    def __init__(
        self,
        table: TrackTable,
        windows: WindowSource,
        tracks_info: InfoSource,
        *,
        flat_limit: int = 200_000,
        candidates: int = 200,
        nprobe: int | None = None,
        index_cache: str | os.PathLike[str] | None = None,
        tags: TagModel | None = None,
        track_weight: float = TRACK_WEIGHT,
        chance_correction: bool = True,
        previous: SearchEngine | None = None,
    ) -> None:
        """``previous``: an engine whose table is the first rows of ``table``, unchanged (a
        library that only grew): its approximate index is extended, not rebuilt."""
        self.table = table
        self.tags = LibraryTags(tags, table.vectors)
        self.track_weight = track_weight
        self.chance_correction = chance_correction  # module doc, 5 (off: the plain best segment)
        self._windows = windows
        self._info = tracks_info
        self.candidates = candidates
        self.index = VectorIndex(
            table.vectors, flat_limit=flat_limit, nprobe=nprobe, cache_path=index_cache,
            previous=None if previous is None else previous.index,
        )  # fmt: skip
        # The pool's extra weightings probe fewer lists than the query's own (they only
        # widen the pool for later slider moves): a quarter of the index's nprobe.
        self.pool_nprobe = max(1, self.index.nprobe // 4)
        self._filter = TrackFilter(table, self.tags)
        self._states: OrderedDict[int, tuple[Query, QueryState]] = OrderedDict()
        self._spread: LibrarySpread | None = None  # read on the first search
        self._preparing: QueryState | None = None  # the query prepare_moves works for
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self.table)

    # ------------------------------------------------------------------ filters
    def filter_mask(self, filters: SearchFilters) -> np.ndarray:
        """Boolean ``(N,)``, read-only: rows that pass (app.core.filters)."""
        return self._filter.mask(filters)

    # ------------------------------------------------------------------ search
    def _state(self, query: Query) -> QueryState:
        key = id(query)
        entry = self._states.get(key)
        if entry is not None and entry[0] is query:
            self._states.move_to_end(key)
            return entry[1]
        state = QueryState()
        self._states[key] = (query, state)
        while len(self._states) > 4:  # a few recent queries (A/B between clips stays cheap)
            self._states.popitem(last=False)
        return state

    def search(
        self,
        query: Query | None,
        weights: SearchWeights | Sequence[float],
        k: int = 10,
        filters: SearchFilters | None = None,
        tag_groups: Sequence[Sequence[int]] = (),
    ) -> list[SearchResult]:
        """The ``k`` best tracks for ``query`` and/or ``tag_groups`` under ``weights``
        (thread-safe, serialised)."""
        try:
            with self._lock:
                if query is None:
                    return self._search_tags(tag_groups, k, filters or SearchFilters())
                return self._search(query, weights, k, filters, tag_groups)
        except TagQueryError as exc:
            raise SearchError(str(exc)) from None

    def _search_tags(self, tag_groups: Sequence[Sequence[int]], k: int, filters: SearchFilters) -> list[SearchResult]:
        if not tag_groups:
            raise SearchError("give a query clip or tag words")
        if len(self.table) == 0:
            raise SearchError("the library has no indexed tracks")
        match = self.tags.match(tag_groups)
        valid = np.flatnonzero(self.filter_mask(filters))
        rows = valid[np.lexsort((valid, -match[valid]))[:k]]
        ids = [int(self.table.ids[r]) for r in rows]
        infos = self._info(ids)
        zeros = dict.fromkeys(DIMENSIONS, 0.0)
        return [SearchResult(infos.get(i) or TrackInfo(i, self.table.paths[r]), float(match[r]), 0.0,
                             dict(zeros), dict(zeros), 0.0, self.tags.labels(int(r)))
                for r, i in zip(rows, ids, strict=True)]

    def _search(
        self,
        query: Query,
        weights: SearchWeights | Sequence[float],
        k: int,
        filters: SearchFilters | None,
        tag_groups: Sequence[Sequence[int]],
    ) -> list[SearchResult]:
        w = np.asarray(
            weights.as_tuple() if isinstance(weights, SearchWeights) else weights, np.float32
        )
        if w.shape != (N_DIMS,) or not np.all(np.isfinite(w)) or np.any(w < 0):
            raise SearchError("weights must be four finite numbers >= 0")
        if not w.any():
            raise SearchError("all weights are zero; give at least one dimension a weight > 0")
        if len(self.table) == 0:
            raise SearchError("the library has no indexed tracks")
        state = self._state(query)
        centers = self.spread.centers(query.spans)
        mask = self.filter_mask(filters or SearchFilters())
        match = self.tags.match(tag_groups) if tag_groups else None
        rows = self._candidate_rows(query, state, w, centers, mask, max(self.candidates, k), match)
        return self._rank_segments(query, state, w, centers, rows, k, match)

    @property
    def spread(self) -> LibrarySpread:
        """The library's unrelated-pair spread (calibration), sampled once per engine."""
        if self._spread is None:
            self._spread = LibrarySpread.sample(self.table.ids, self._windows)
        return self._spread

    def _candidate_rows(
        self,
        query: Query,
        state: QueryState,
        weights: np.ndarray,
        centers: np.ndarray,
        mask: np.ndarray,
        n: int,
        match: np.ndarray | None,
    ) -> np.ndarray:
        w = weights / scale(centers)  # linear in the cosines: the calibrated order (step 3)
        if self.index.exact:
            if state.track_cosines is None:
                state.track_cosines = self.index.cosines(query.vector)
            if match is None:
                scores = state.track_cosines @ w
            else:  # the calibrated track-level similarity, averaged with the tag match
                scores = (state.track_cosines - centers) @ w / weights.sum() + match
            valid = np.flatnonzero(mask)
            if valid.shape[0] <= n:
                return valid
            top = np.argpartition(-scores[valid], n - 1)[:n]
            return valid[top]
        # Approximate. The first search of a query gathers a candidate POOL in one faiss call:
        # the IVF's best for these weights, for equal weights and for each dimension alone
        # (more than needed: 8-bit codes blur the order near the cut). Slider moves then
        # re-score the pool exactly, with no index search. Restrictive filters that leave
        # too few pool rows add a wider search for the current weights.
        want = min(len(self.table), max(3 * n, 1000))
        if state.pool is None:
            sets = np.vstack([w, np.ones(N_DIMS, np.float32), np.eye(N_DIMS, dtype=np.float32)])
            state.pool = self.index.candidates(query.vector, sets, want, self.pool_nprobe)
        rows, cosines = state.pool
        if int(mask[rows].sum()) < n and not mask.all():
            extra = self.index.candidates(query.vector, w, min(len(self.table), 8 * want))
            merged, first = np.unique(np.concatenate([rows, extra[0]]), return_index=True)
            state.pool = (merged, np.concatenate([cosines, extra[1]])[first])
            rows, cosines = state.pool
        keep = mask[rows]
        rows, cosines = rows[keep], cosines[keep]
        order = np.argsort(-(cosines @ w), kind="stable")[:n]
        return rows[order]

    def _rank_segments(
        self,
        query: Query,
        state: QueryState,
        w: np.ndarray,
        centers: np.ndarray,
        rows: np.ndarray,
        k: int,
        match: np.ndarray | None = None,
    ) -> list[SearchResult]:
        if rows.shape[0] == 0:
            return []
        missing = [int(r) for r in rows if int(r) not in state.segments]
        read: Mapping[int, np.ndarray] = {}  # windows read by this call (id -> windows), for the alignment too
        if missing:
            segments, read = self._segments_of(query, missing)
            state.segments.update(segments)
        rows = np.array([r for r in rows if int(r) in state.segments], dtype=np.int64)
        if rows.shape[0] == 0:
            return []
        segs = [state.segments[int(r)] for r in rows]
        counts = np.array([s.shape[0] for s in segs])
        stacked = np.concatenate(segs)
        unclipped = calibrate(stacked, centers, clip=False)
        calibrated = np.clip(unclipped, 0.0, 1.0)
        scores = calibrated @ (w / w.sum())
        bounds = np.concatenate([[0], np.cumsum(counts)[:-1]])
        best = np.maximum.reduceat(scores, bounds)
        owner = np.repeat(np.arange(len(segs)), counts)
        hits = np.flatnonzero(scores == best[owner])
        _, first = np.unique(owner[hits], return_index=True)
        best_pair = hits[first]  # earliest best offset of each candidate
        # Evidence per dimension: best segment blended with the whole track (module doc, 5).
        tracks = self._track_cosines(state, rows)
        raw = self._blend(stacked[best_pair], tracks, counts)
        offsets = (best_pair - bounds) * WINDOW_SECONDS
        order = result_order(raw, centers, w, rows, match)
        if query.phases:  # module doc, 6
            order = order[: max(RERANK_FACTOR * k, RERANK_MIN)]
            new = [int(rows[i]) for i in order if int(rows[i]) not in state.phases]
            unread = [int(self.table.ids[r]) for r in new if int(self.table.ids[r]) not in read]
            found = {**read, **self._windows(unread)} if unread else read
            aligned = align_phases(query, [found.get(int(self.table.ids[row])) for row in new])
            for row, (cosines, stack) in zip(new, aligned, strict=True):
                state.phases[row] = cosines
                if stack is not None:
                    state.stacks[row] = stack
            have = np.array([i for i in order if state.phases[int(rows[i])] is not None], dtype=np.int64)
            if have.size:
                stacks = [state.stacks[int(rows[i])] for i in have]
                offsets[have], aligned = best_alignments(stacks, w)
                chances = np.array([rows_.shape[0] for rows_, _ in stacks], dtype=np.int64)
                raw[have] = self._blend(aligned, tracks[have], chances)
            order = order[result_order(raw[order], centers, w, rows[order], match)]
            if query.pattern is not None:  # module doc, 7
                order = self._place_top(query, state, w, rows, order, offsets)
        order = order[:k]
        calibrated = calibrate(raw, centers)
        ids = [int(self.table.ids[rows[i]]) for i in order]
        unread = [i for i in ids if i not in state.infos]
        if unread:  # a slider move shows mostly the tracks it showed before
            found = self._info(unread)
            state.infos.update((i, found.get(i)) for i in unread)
        results = []
        for i, track_id in zip(order, ids, strict=True):
            info = state.infos[track_id] or TrackInfo(track_id, self.table.paths[rows[i]])
            results.append(
                SearchResult(
                    track=info,
                    score=float(slider_scores(calibrated[i : i + 1], w, rows[i : i + 1], match)[0]),
                    offset_s=float(offsets[i]),
                    dimensions={name: float(calibrated[i, d]) for d, name in enumerate(DIMENSIONS)},
                    raw={name: float(raw[i, d]) for d, name in enumerate(DIMENSIONS)},
                    score_raw=float(raw[i] @ w),
                    tags=self.tags.labels(int(rows[i])),
                )
            )
        return results

    def _segments_of(
        self, query: Query, rows: Sequence[int]
    ) -> tuple[dict[int, np.ndarray], Mapping[int, np.ndarray]]:
        """``segment_cosines`` of those ``rows`` that have windows (row -> cosines), and the
        windows read (track id -> windows)."""
        if not rows:
            return {}, {}
        ids = [int(self.table.ids[r]) for r in rows]
        found = self._windows(ids)
        have = [(r, found[i]) for r, i in zip(rows, ids, strict=True) if i in found]
        segments = segment_cosines(query, [x for _, x in have])
        return {row: seg for (row, _), seg in zip(have, segments, strict=True)}, found

    def _blend(self, best: np.ndarray, tracks: np.ndarray, chances: np.ndarray) -> np.ndarray:
        """Evidence per dimension: the best segment, less what its number of ``chances``
        explains (app.core.chance), blended with the whole track (module doc, 5)."""
        segment = best - chance_gain(best, tracks, chances) if self.chance_correction else best
        return (1.0 - self.track_weight) * segment + self.track_weight * tracks

    def _place_top(
        self, query: Query, state: QueryState, w: np.ndarray, rows: np.ndarray, order: np.ndarray, offsets: np.ndarray
    ) -> np.ndarray:
        """``order`` with the query's recording first when the audio finds it among the top
        ``PROMOTE_RANKS``, its offset placed to the frame (app.core.refine, module doc 5)."""
        for rank, i in enumerate(order[:PROMOTE_RANKS]):
            row = int(rows[i])
            placed = self._placed(query, state, w, row, checked=rank == 0)
            if placed is not None:
                offsets[i] = placed
                return order if rank == 0 else np.concatenate([[i], np.delete(order, rank)])
        return order

    def _placed(self, query: Query, state: QueryState, w: np.ndarray, row: int, *, checked: bool) -> float | None:
        """refine's answer for ``row`` (cached per query); unless ``checked``, only once ``check``'s
        answers at its first candidates say the recording (``confirms``; one region decoded for
        another recording)."""
        cosines = state.phases.get(row)
        if cosines is None or query.pattern is None:
            return None
        if row in state.placed:
            return state.placed[row]
        candidates = best_offsets(cosines, w, phase_hop_s(), MORE_CANDIDATES, SPACING_S)
        path = self.table.paths[row]
        if candidates and (row not in state.known or checked):
            # (a row checked below the top, now the top after a slider move: its check goes on as the top's)
            state.known[row] = check(query.pattern, path, candidates, top=checked, known=state.known.get(row, ()))
        known = state.known.get(row)
        if not checked and not confirms(known or []):
            return None
        state.placed[row] = refine(query.pattern, path, candidates, known, float(self.table.duration_s[row]))
        return state.placed[row]

    def _track_cosines(self, state: QueryState, rows: np.ndarray) -> np.ndarray:
        """``(len(rows), 4)`` whole-track cosines of the query (cached by ``_candidate_rows``)."""
        if state.track_cosines is not None:
            return state.track_cosines[rows]
        assert state.pool is not None
        pool_rows, cosines = state.pool
        order = np.argsort(pool_rows)
        return cosines[order[np.searchsorted(pool_rows, rows, sorter=order)]]
