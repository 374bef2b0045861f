"""Slider moves prepared ahead: ``SearchEngine.prepare_moves``.

After a query's results are shown, the app spends idle slices on the tracks that some
setting of the sliders can bring into the candidates (app.core.reachable): their segment
cosines, phase alignments and details go into the query's ``QueryState``
(app.core.query_cache), so that a later move reads nothing. This is the engine's own work
on the engine's state, under its lock; it is a mixin of ``SearchEngine`` (app.core.search)
so that the search itself reads top to bottom without it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from app.core.calibration import LibrarySpread, scale
from app.core.catalog import TrackTable
from app.core.query import Query
from app.core.query_cache import QueryState, align_phases
from app.core.reachable import plan
from app.core.types import SearchFilters, SearchWeights

if TYPE_CHECKING:
    from app.core.search import InfoSource, WindowSource

PREPARE_BATCH = 8  # tracks per step of prepare_moves (~3 ms: a step may run on the GUI thread)
PREPARE_LIMIT = 20_000  # tracks prepared per query at most (~5 KB each)


class MovePreparation:
    """``prepare_moves`` for ``SearchEngine``, which sets what is declared here."""

    table: TrackTable
    candidates: int
    spread: LibrarySpread
    _windows: WindowSource
    _info: InfoSource
    _lock: threading.Lock
    _states: OrderedDict[int, tuple[Query, QueryState]]
    _preparing: QueryState | None
    filter_mask: Callable[[SearchFilters], np.ndarray]
    _segments_of: Callable[[Query, Sequence[int]], tuple[dict[int, np.ndarray], Mapping[int, np.ndarray]]]

    def prepare_moves(
        self,
        query: Query,
        weights: SearchWeights | Sequence[float] | Callable[[], SearchWeights | Sequence[float]],
        k: int = 10,
        filters: SearchFilters | None = None,
        *,
        batch: int = PREPARE_BATCH,
        limit: int = PREPARE_LIMIT,
    ) -> Iterator[int]:
        """Compute ahead, for every track that some slider setting brings into ``query``'s
        candidates (app.core.reachable), what a move would otherwise read and compute then:
        its segment cosines, its phase alignment's cosines and its details. Call it after a
        ``search`` of ``query`` with these ``k`` and ``filters``. ``weights`` (or a callable
        giving them as the sliders move) only order the work: the tracks of settings near the
        sliders first. A generator that yields the rows prepared so far after each ``batch``
        (a cancellation point).

        A move's results do not change: it finds the numbers it would have computed. The
        lock is held only to look up and to store, never while reading the catalog or
        computing, so a search waits at most for one store. Only the query prepared last
        keeps what was prepared for it, up to ``limit`` rows (about 5 KB each) whatever filters
        they were prepared for (preparing stops there: each new filter set used to add up to
        ``limit`` more). Tag words
        (a score that is not linear in the weights) and the audio check of the top results
        (app.core.refine) are not prepared."""
        def now() -> np.ndarray:
            value = weights() if callable(weights) else weights
            return np.asarray(value.as_tuple() if isinstance(value, SearchWeights) else value, np.float32)

        with self._lock:
            entry = self._states.get(id(query))
            if entry is None or entry[0] is not query or not now().any():
                return 0
            state = entry[1]
            mask = self.filter_mask(filters or SearchFilters())
            if state.track_cosines is not None:
                rows = np.flatnonzero(mask)
                cosines = state.track_cosines[rows]
            elif state.pool is not None:
                keep = mask[state.pool[0]]
                rows, cosines = state.pool[0][keep], state.pool[1][keep]
            else:
                return 0
            width = scale(self.spread.centers(query.spans))
            for _, other in self._states.values():
                if other is not state:
                    other.forget_prepared()
            self._preparing = state
        done = 0
        for part in plan(cosines, max(self.candidates, k), now, width, batch):
            if done >= limit or len(state.prepared) >= limit:  # this call's rows, and all the query holds
                break
            if part.size:
                if not self._prepare_rows(query, state, [int(r) for r in rows[part]]):
                    break  # another query is being prepared
                done += int(part.size)
            yield done
        return done

    def _prepare_rows(self, query: Query, state: QueryState, rows: list[int]) -> bool:
        """``prepare_moves`` for ``rows``: computed unlocked, stored under the lock unless a
        search got there first (the same numbers). False when another query is being prepared."""
        segments, found = self._segments_of(query, [r for r in rows if r not in state.segments])
        aligned = {}
        if query.phases:
            new = [r for r in rows if r not in state.phases]
            unread = [int(self.table.ids[r]) for r in new if int(self.table.ids[r]) not in found]
            found = {**found, **self._windows(unread)} if unread else found
            aligned = dict(zip(new, align_phases(query, [found.get(int(self.table.ids[r])) for r in new]), strict=True))
        ids = [int(self.table.ids[r]) for r in rows if r in segments or r in state.segments]
        unknown = [i for i in ids if i not in state.infos]
        infos = self._info(unknown) if unknown else {}
        with self._lock:
            if self._preparing is not state:
                return False
            for row, seg in segments.items():
                if row not in state.segments:
                    state.segments[row] = seg
                    state.prepared.add(row)
            for row, (cosines, stack) in aligned.items():
                if row not in state.phases and stack is not None:
                    state.phases[row], state.stacks[row] = cosines, stack
                    state.prepared.add(row)
            for track_id in unknown:
                if track_id not in state.infos:
                    state.infos[track_id] = infos.get(track_id)
                    state.prepared_ids.add(track_id)
        return True
