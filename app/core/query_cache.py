"""What the search engine keeps per query, so that a slider move is a few small products.

A ``QueryState`` holds the weight-free numbers of one query: its track cosines (or, above
``flat_limit``, its candidate pool's), each candidate's segment cosines and phase alignment
(``align_phases``), the audio placements and the results' details. A slider move (new
weights, same query) re-ranks these and reads only what a track new to the candidates
needs; ``SearchEngine.prepare_moves`` (app.core.moves) fills them ahead. Kept apart from
the engine (app.core.search) because both the search and the preparation read and write it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from app.core.alignment import phase_cosines_many, phase_hop_s, stack_phases

if TYPE_CHECKING:
    from app.core.query import Query
    from app.core.types import TrackInfo


class QueryState:
    def __init__(self) -> None:
        self.track_cosines: np.ndarray | None = None  # (N, 4), exact mode
        self.segments: dict[int, np.ndarray] = {}  # row -> (offsets, 4)
        self.pool: tuple[np.ndarray, np.ndarray] | None = None  # approximate mode: rows, (rows, 4)
        self.phases: dict[int, list[np.ndarray] | None] = {}  # row -> alignment.phase_cosines
        self.stacks: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # row -> alignment.stack_phases of it
        self.placed: dict[int, float | None] = {}  # row -> refine's answer (weight-free)
        self.known: dict[int, list[tuple[float, float] | None]] = {}  # row -> refine.place at its first candidates
        self.infos: dict[int, TrackInfo | None] = {}  # track id -> its details, as read for this query
        # What SearchEngine.prepare_moves added (rows; track ids for infos): dropped when
        # another query is prepared, so only one query holds its prepared moves.
        self.prepared: set[int] = set()
        self.prepared_ids: set[int] = set()

    def forget_prepared(self) -> None:
        for row in self.prepared:
            self.segments.pop(row, None)
            self.phases.pop(row, None)
            self.stacks.pop(row, None)
        for track_id in self.prepared_ids:
            self.infos.pop(track_id, None)
        self.prepared, self.prepared_ids = set(), set()


Aligned = tuple[list[np.ndarray] | None, tuple[np.ndarray, np.ndarray] | None]


def align_phases(query: Query, tracks: Sequence[np.ndarray | None]) -> list[Aligned]:
    """Per track, its ``phase_cosines`` with the query and their ``stack_phases`` (the per-phase
    arrays are views of the stack: kept for many candidates, the cosines are stored once);
    ``(None, None)`` for a track without windows."""
    have = [t for t in tracks if t is not None]
    found = iter(phase_cosines_many(query.phases, have))
    out: list[Aligned] = []
    for track in tracks:
        if track is None:
            out.append((None, None))
            continue
        cosines = next(found)
        stack = stack_phases(cosines, phase_hop_s())
        out.append((np.split(stack[0], np.cumsum([len(c) for c in cosines])[:-1]), stack))
    return out
