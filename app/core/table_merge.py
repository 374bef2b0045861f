"""Track tables joined and updated by id, without a Python loop over a million rows.

Public API::

    concat_tables([t1, t2, ...], room=False) -> TrackTable   # consecutive pieces, one table
    append_into(buffer, table, changed) -> (table, buffer)  # the same, into rows to spare
    room_of(table) -> buffer | None                      # the rows to spare after a table's
    merge(table, changed, removed) -> TrackTable         # ``changed`` rows in, ``removed`` out
    appends(table, changed, removed) -> bool             # merge only adds rows after table's
    squash([(changed, removed), ...]) -> (changed, removed)   # many syncs' changes as one

Every table here is ordered by track id (the catalog's reads are), and stays so.

Why it matters: a studio client holds 1M tracks (512 MB of vectors) and syncs often. The
common change is an indexer's new tracks, whose ids come after every cached one: those are
appended (one copy of the arrays, no sort). Anything else (a re-embedded, moved or removed
track) drops rows by binary search and re-sorts once.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import chain

import numpy as np

from app.core.catalog_records import TrackTable
from model.dimensions import EMBEDDING_SIZE

ARRAYS = ("ids", "vectors", "n_windows", "duration_s", "bpm")
LISTS = ("paths", "albums", "fingerprints")


def concat_tables(parts: Sequence[TrackTable], *, room: bool = False) -> TrackTable:
    """One table from consecutive pieces (an empty table when there are none); with ``room``,
    its vectors are the first rows of an array with rows to spare (``room_of``)."""
    from app.core.catalog_changes import table_from_rows

    if len(parts) == 1 and not room:
        return parts[0]
    if not parts:
        return table_from_rows([])
    arrays = {name: np.concatenate([getattr(p, name) for p in parts]) for name in ARRAYS if name != "vectors"}
    lists = {name: list(chain.from_iterable(getattr(p, name) for p in parts)) for name in LISTS}
    vectors = [p.vectors for p in parts]
    n = len(arrays["ids"])
    vectors = _with_room(vectors)[:n] if room else np.concatenate(vectors)
    return TrackTable(**arrays, vectors=vectors, **lists)


def _with_room(pieces: Sequence[np.ndarray]) -> np.ndarray:
    """The pieces' rows in one new array, a quarter of them (at least as many as the last
    piece) to spare after them: rows never written cost no memory (the pages stay unmapped)."""
    n = sum(len(piece) for piece in pieces)
    out = np.empty((n + max(n // 4, len(pieces[-1])), EMBEDDING_SIZE), np.float16)
    start = 0
    for piece in pieces:
        out[start : start + len(piece)] = piece
        start += len(piece)
    return out


def room_of(table: TrackTable) -> np.ndarray | None:
    """The array whose first rows are ``table.vectors``, when it has rows to spare after them."""
    base = table.vectors.base
    if (isinstance(base, np.ndarray) and base.ndim == 2 and base.dtype == np.float16
            and base.shape[0] > len(table) and base.ctypes.data == table.vectors.ctypes.data):  # fmt: skip
        return base
    return None


def append_into(buffer: np.ndarray | None, table: TrackTable, changed: TrackTable) -> tuple[TrackTable, np.ndarray]:
    """``concat_tables([table, changed])`` with the vectors in the first rows of ``buffer``, an
    array with rows to spare: a 1M-track table grows by new tracks without copying its
    512 MB of vectors (the other columns are 20 bytes a row). ``buffer`` must be the one
    returned with ``table`` or ``room_of(table)`` (None: a new one is made, with room).
    Rows past ``table``'s are written, so no other table may use them: the caller keeps one
    line of tables (app.core.vector_cache)."""
    n, k = len(table), len(changed)
    if buffer is None or buffer.shape[0] < n + k:
        buffer = _with_room([table.vectors, changed.vectors])
    else:
        buffer[n : n + k] = changed.vectors
    arrays = {name: np.concatenate([getattr(table, name), getattr(changed, name)]) for name in ARRAYS if name != "vectors"}
    lists = {name: getattr(table, name) + getattr(changed, name) for name in LISTS}
    return TrackTable(**arrays, vectors=buffer[: n + k], **lists), buffer


def _objects(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def take(table: TrackTable, rows: np.ndarray) -> TrackTable:
    """The rows ``rows`` of ``table``, in that order."""
    return TrackTable(
        **{name: getattr(table, name)[rows] for name in ARRAYS},
        **{name: _objects(getattr(table, name))[rows].tolist() for name in LISTS},
    )


def _positions(ids: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """Rows of sorted ``ids`` holding any of ``wanted`` (absent ones are skipped)."""
    if ids.size == 0 or wanted.size == 0:
        return np.zeros(0, np.int64)
    pos = np.minimum(np.searchsorted(ids, wanted), ids.size - 1)
    return np.unique(pos[ids[pos] == wanted])


def appends(table: TrackTable, changed: TrackTable, removed: np.ndarray) -> bool:
    """Whether merging leaves ``table``'s rows as they are, first, and adds any after them."""
    if len(changed) and len(table) and changed.ids[0] <= table.ids[-1]:
        return False
    return _positions(table.ids, removed).size == 0


def merge(table: TrackTable, changed: TrackTable, removed: np.ndarray) -> TrackTable:
    """``table`` with ``changed``'s rows replacing or joining its own, and ``removed`` dropped."""
    if len(changed) == 0 and removed.size == 0:
        return table
    if appends(table, changed, removed):
        return concat_tables([table, changed])  # new tracks after every cached one
    drop = _positions(table.ids, np.concatenate([removed, changed.ids]))
    keep = np.delete(np.arange(len(table)), drop)
    ids = np.concatenate([table.ids[keep], changed.ids])
    order = np.argsort(ids, kind="stable")
    return TrackTable(
        **{name: np.concatenate([getattr(table, name)[keep], getattr(changed, name)])[order] for name in ARRAYS},
        **{name: np.concatenate([_objects(getattr(table, name))[keep], _objects(getattr(changed, name))])[order]
           .tolist() for name in LISTS},
    )  # fmt: skip


def squash(steps: Sequence[tuple[TrackTable, np.ndarray]]) -> tuple[TrackTable, np.ndarray]:
    """Consecutive ``(changed, removed)`` steps as one: for each id, its last step decides.

    Merging the result once equals merging each step in turn (tested), so a cache with many
    synced frames is loaded with one pass over its million rows instead of one per frame.
    """
    if len(steps) == 1:
        return steps[0]
    rows = concat_tables([changed for changed, _ in steps])
    ids = np.concatenate([np.concatenate([removed, changed.ids]) for changed, removed in steps])
    # Each event: its step's order, and its row in ``rows`` (-1: a removal).
    row_of, start = [], 0
    for changed, removed in steps:
        row_of += [np.full(removed.size, -1, np.int64), np.arange(start, start + len(changed))]
        start += len(changed)
    event_row = np.concatenate(row_of)
    order = np.argsort(ids, kind="stable")  # stable: a later step's event comes later
    last = np.ones(order.size, dtype=bool)
    last[:-1] = ids[order][1:] != ids[order][:-1]
    final_ids, final_rows = ids[order][last], event_row[order][last]
    upserts = final_rows[final_rows >= 0]
    return take(rows, upserts), np.sort(final_ids[final_rows < 0])
