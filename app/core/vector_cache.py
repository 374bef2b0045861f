"""One model's searchable track vectors, held in memory and in a local file, kept in step
with the catalog.

Public API::

    cache_path(catalog_path, model_id) -> Path          # "<catalog>.<model_id>.vectors"
    cache = VectorCache(path, model_id)                 # one per searcher (app.core.library)
    cache.sync(source) -> TrackTable                    # what the search engine is built from
    cache.grown_from                                    # the table the last sync only added rows to
    load_table(source, model_id, path) -> TrackTable    # one sync by a fresh VectorCache

``source`` is any catalog with ``vector_changes(model_id, since)`` (app.core.catalog_changes
states the contract): the SQLite catalog, or a PostgreSQL one whose clients each keep a
cache on their own disk.

Why: building the search engine read every track vector out of SQLite, 1.9 s of a CLI
search on a 100k-track catalog (one row and one BLOB per track), and a studio client's
first read of a 1M-track PostgreSQL catalog takes minutes. The file is read once per
process; after that a sync asks the catalog only for what changed since the table's
counter, merges it in memory (app.core.table_merge: new tracks go into spare rows, the
1M rows already held are not copied) and appends it to the file as one
frame (app.core.vector_cache_file: crash-safe, CRC-checked). The file is rewritten whole
only after a full read, or when its appended frames outgrow ``COMPACT_SHARE`` of the
snapshot or number ``MAX_FRAMES`` (each restart merges them all).

Never trusted when stale: the cache is rebuilt from a full read when its file is missing
or damaged, when it was made from another catalog (``catalog_id``) or another model, when
the catalog's counter is behind the cache's (a restored backup), and when the merged row
count differs from the catalog's (counted whenever the counter moved). A cache that cannot
be written (a read-only folder, a full disk) only costs the next process a full read (this
one stops writing it). Two processes sharing one file never read a wrong table from it: an
append that finds the file not as it left it rewrites it whole instead, and frames that do
not chain are ignored (at worst, one full read).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from app.core.catalog_changes import VectorChanges
from app.core.catalog_records import TrackTable
from app.core.table_merge import append_into, appends, merge, room_of, squash
from app.core.vector_cache_file import MAGIC, frame_parts, read_frames, snapshot_parts
from model.atomic import atomic_path

log = logging.getLogger(__name__)

COMPACT_SHARE = 0.25  # appended frames may grow to this share of the snapshot's bytes
MAX_FRAMES = 64


class VectorSource(Protocol):
    def vector_changes(self, model_id: str, since: int | None) -> VectorChanges: ...


@dataclass(frozen=True)
class _State:
    catalog_id: str
    counter: int
    table: TrackTable


def cache_path(catalog_path: str | os.PathLike[str], model_id: str) -> Path:
    return Path(f"{os.fspath(catalog_path)}.{model_id}.vectors")


def load_table(source: VectorSource, model_id: str, path: str | os.PathLike[str]) -> TrackTable:
    """``model_id``'s searchable vectors in ``source``, through the cache file at ``path``."""
    return VectorCache(path, model_id).sync(source)


class VectorCache:
    """The table of one model's vectors, synced by counter (see the module doc).

    Not thread-safe: its owner serialises ``sync`` (Library does, under its lock).
    """

    def __init__(self, path: str | os.PathLike[str], model_id: str) -> None:
        self.path = Path(path)
        self.model_id = model_id
        self._state: _State | None = None
        self._buffer: np.ndarray | None = None  # the current table's vectors and spare rows (append_into)
        self._file: tuple[int, int] | None = None  # (inode, size) as this cache left the file
        self._snapshot_bytes = 0
        self._journal = (0, 0)  # frames appended since the snapshot: (count, bytes)
        self._opened = False
        self._writable = True  # False after a failed write: not tried again (1M tracks: seconds each)
        self.grown_from: TrackTable | None = None  # the last sync's table is this one plus rows at its end

    def sync(self, source: VectorSource) -> TrackTable:
        in_memory, self.grown_from = self._opened and self._state is not None, None
        if not self._opened:
            self._opened = True
            self._state = self._read()
        state = self._state
        if state is not None:
            changes = source.vector_changes(self.model_id, state.counter)
            if changes.counter < 0:
                return changes.table
            if changes.catalog_id == state.catalog_id and changes.counter >= state.counter:
                grows = in_memory and appends(state.table, changes.table, changes.removed)
                if not grows:
                    table, buffer = merge(state.table, changes.table, changes.removed), None
                elif len(changes.table):
                    table, buffer = append_into(self._buffer, state.table, changes.table)
                else:
                    table, buffer = state.table, self._buffer
                if changes.total is None or len(table) == changes.total:
                    self.grown_from = state.table if grows else None
                    if changes.counter != state.counter:
                        self._state, self._buffer = _State(state.catalog_id, changes.counter, table), buffer
                        self._append(state.counter, changes)
                    return table
            log.info("vector cache %s is stale; rebuilding it", self.path)
        changes = source.vector_changes(self.model_id, None)
        if changes.counter < 0:  # a catalog without a change counter: nothing to key a cache by
            return changes.table
        self._state, self._buffer = _State(changes.catalog_id, changes.counter, changes.table), room_of(changes.table)
        self._rewrite()
        return changes.table

    # ------------------------------------------------------------------ the file
    def _head(self, catalog_id: str, counter: int, since: int | None = None) -> dict:
        head = {"catalog_id": catalog_id, "model_id": self.model_id, "counter": counter}
        return head if since is None else {**head, "since": since}

    def _read(self) -> _State | None:
        """The file's snapshot with its chained frames merged in; None when unusable."""
        found = read_frames(self.path)
        if found is None:
            return None
        frames, end = found
        first = frames[0].head
        if first.get("model_id") != self.model_id or "since" in first:
            return None
        catalog_id, counter, steps = str(first["catalog_id"]), int(first["counter"]), []
        for frame in frames[1:]:
            head = frame.head
            if head.get("since") != counter or head.get("catalog_id") != catalog_id:
                log.warning("vector cache %s: a frame does not follow its predecessor; ignoring the rest", self.path)
                break
            steps.append((frame.table, frame.removed))
            counter = int(head["counter"])
        table = frames[0].table if not steps else merge(frames[0].table, *squash(steps))
        self._snapshot_bytes = len(MAGIC) + frames[0].size
        self._journal = (len(steps), sum(frame.size for frame in frames[1 : 1 + len(steps)]))
        self._file = self._identity() if len(steps) == len(frames) - 1 and end == self._size() else None
        return _State(catalog_id, counter, table)

    def _identity(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self.path)
        except OSError:
            return None
        return stat.st_ino, stat.st_size

    def _size(self) -> int:
        identity = self._identity()
        return -1 if identity is None else identity[1]

    def _append(self, since: int, changes: VectorChanges) -> None:
        """One frame for this sync, or the whole file when appending is not safe or worth it."""
        count, size = self._journal
        if not self._writable:
            return
        if (self._file is None or self._identity() != self._file or count >= MAX_FRAMES
                or size > COMPACT_SHARE * self._snapshot_bytes):  # fmt: skip
            self._rewrite()
            return
        parts = frame_parts(self._head(changes.catalog_id, changes.counter, since), changes.table, changes.removed)
        written = sum(map(len, parts))
        try:
            with open(self.path, "r+b") as f:
                f.seek(self._file[1])
                for part in parts:
                    f.write(part)
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            log.info("vector cache %s not appended to (%s); it is rewritten next time", self.path, exc)
            self._file = None
            return
        self._journal = (count + 1, size + written)
        self._file = (self._file[0], self._file[1] + written)

    def _rewrite(self) -> None:
        state = self._state
        assert state is not None
        parts = snapshot_parts(self._head(state.catalog_id, state.counter), state.table)
        self._file, self._journal = None, (0, 0)
        try:
            with atomic_path(self.path) as tmp, open(tmp, "wb") as f:
                for part in parts:
                    f.write(part)
        except OSError as exc:
            log.info("vector cache %s not written (%s); the next process reads the catalog", self.path, exc)
            self._writable = False
            return
        self._snapshot_bytes = sum(map(len, parts))
        self._file = self._identity()
