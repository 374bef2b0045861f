"""A studio client's local copy of what a search reads besides the track vectors: each
searchable track's window vectors and details (path, title, tags, ...), for one model.

Public API::

    replica = SearchReplica(path, model_id)        # a SQLite file in the client's data dir
    replica.update(catalog_id, counter, since, changed_rows, removed_ids)   # in the server's snapshot
    replica.windows(ids) -> {id: (n, 256) float16}; replica.infos(ids) -> {id: TrackInfo}

Why: the track vectors come from the in-memory vector cache (app.core.vector_cache), but a
search also reads its ~200 candidates' window vectors (segment scores) and its results'
details. Read from the PostgreSQL server, those two round trips made a studio query slower
than the same query on a local SQLite catalog (1M tracks: p95 431 vs 359 ms; 200k: window
reads 4-8 ms instead of 1-2 ms per query). The replica holds them on local disk, read with
the local catalog's SQL (``IN (...)`` on the primary key), so a query touches no server.

Kept in step by the catalog's change counter, in the same server snapshot as the vector
cache's sync (app.core.catalog_pg.PgCatalog.vector_changes calls ``update`` inside it): after a
sync both are the library as of one counter. The replica keeps its own counter and catalog
id, so it is updated from where it stands (a process that shares it may have moved it on):
rows changed since then are replaced, ids no longer searchable deleted, all in one SQLite
transaction (a killed client leaves the previous state). A full read of the server (the
vector cache's first sync, or a cache found stale) rewrites it whole.

Never a reason to fail a search: an id the replica lacks (a track added or re-embedded after
its last update, a replica another process is still writing, an unwritable disk) is read
from the server by the caller (``PgCatalog.search_sources``). Reads use their own connection
(WAL): an update in progress never blocks a search.

Size: the windows are the catalog's own float16 blobs, so the file is about the size of a
local catalog of the same library (31 KB per 3-minute track); the process holds only SQLite's
page cache of it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from app.core.catalog import _TRACK_COLUMNS, _track_info
from app.core.types import TrackInfo
from model.dimensions import EMBEDDING_SIZE

log = logging.getLogger(__name__)

# The server's columns, in this order: the catalog's TrackInfo columns, then the windows.
COLUMNS = f"{_TRACK_COLUMNS}, n_windows, windows"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS tracks (id INTEGER PRIMARY KEY, path BLOB, title TEXT, artist TEXT, "
    "album TEXT, duration_s REAL, bpm REAL, genre TEXT, mood TEXT, status TEXT, error TEXT, "
    "loudness_lufs REAL, n_windows INTEGER, windows BLOB)",
)
_INSERT = f"INSERT OR REPLACE INTO tracks ({COLUMNS}) VALUES ({','.join('?' * 14)})"
WRITE_WAIT_S = 0.5  # another process updating the same replica: this sync leaves it to that one
CHUNK = 500  # ids per IN (...)

Rows = Callable[[int | None], Iterable[Sequence[tuple]]]  # since -> batches of COLUMNS rows


class SearchReplica:
    """One model's search details of one catalog, in a local SQLite file (module doc)."""

    def __init__(self, path: str | os.PathLike[str], model_id: str) -> None:
        self.path = Path(path)
        self.model_id = model_id
        self._reader: sqlite3.Connection | None = None
        self._lock = threading.Lock()  # the reader connection (searches from several threads)
        self._writable = True  # False after a failed write: reads stay, the server serves the rest
        self._known: tuple[str, int] | None = None  # (catalog id, counter) this process last left it at

    # ------------------------------------------------------------------ reading
    def windows(self, ids: Sequence[int]) -> dict[int, np.ndarray]:
        """``{id: (n_windows, 256) float16}`` of the given ids the replica holds."""
        return {
            int(tid): np.frombuffer(blob, dtype=np.float16).reshape(int(n), EMBEDDING_SIZE)
            for tid, n, blob in self._read("SELECT id, n_windows, windows FROM tracks WHERE id IN ({marks})", ids)
        }

    def infos(self, ids: Sequence[int]) -> dict[int, TrackInfo]:
        """``{id: TrackInfo}`` of the given ids the replica holds."""
        rows = self._read(f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id IN ({{marks}})", ids)
        return {info.track_id: info for info in map(_track_info, rows)}

    def _read(self, sql: str, ids: Sequence[int]) -> list[tuple]:
        ids = [int(i) for i in ids]
        with self._lock:
            db = self._connection()
            if db is None or not ids:
                return []
            rows: list[tuple] = []
            try:
                for start in range(0, len(ids), CHUNK):
                    chunk = ids[start : start + CHUNK]
                    rows += db.execute(sql.format(marks=",".join("?" * len(chunk))), chunk).fetchall()
            except sqlite3.Error as exc:  # a damaged or vanished file: the server answers
                log.info("search replica %s not read (%s)", self.path, exc)
                return []
            return rows

    def _connection(self) -> sqlite3.Connection | None:
        if self._reader is None and self.path.exists():
            try:
                self._reader = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True,
                                               check_same_thread=False, isolation_level=None)  # fmt: skip
            except sqlite3.Error:
                return None
        return self._reader

    # ------------------------------------------------------------------ writing
    def update(self, catalog_id: str, counter: int, since: int | None, rows: Rows,
               removed: Callable[[int], Iterable[int]]) -> None:  # fmt: skip
        """Bring the replica to ``counter`` of ``catalog_id``, inside the server snapshot that
        ``rows`` (searchable rows changed after a counter; all for None) and ``removed`` (ids
        changed after a counter that are not searchable now) read from. ``since`` None (a full
        read of the server) rewrites it whole. The server's errors propagate (nothing is
        kept); the replica's own are logged and end its updates in this process."""
        if not self._writable or (since is not None and self._known == (catalog_id, counter)):
            return  # nothing new since this process's last update (others only move it on)
        try:
            db = self._writer()
        except (OSError, sqlite3.Error) as exc:
            self._give_up(exc)
            return
        try:
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:  # another process is updating it: leave it to that one
                return
            try:
                meta = dict(db.execute("SELECT key, value FROM meta").fetchall())
                same = meta.get("catalog_id") == catalog_id and meta.get("model_id") == self.model_id
                start = int(meta["counter"]) if since is not None and same else None
                if start is not None and start >= counter:  # up to date, or moved on by another process
                    db.execute("ROLLBACK")
                    self._known = (catalog_id, counter)
                    return
                if start is None:
                    db.execute("DELETE FROM tracks")
                else:
                    gone = [(int(i),) for i in removed(start)]
                    db.executemany("DELETE FROM tracks WHERE id = ?", gone)
                for batch in rows(start):
                    db.executemany(_INSERT, batch)
                db.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                               [("catalog_id", catalog_id), ("counter", str(counter)),
                                ("model_id", self.model_id)])  # fmt: skip
                db.execute("COMMIT")
                self._known = (catalog_id, counter)
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.Error as exc:
            self._give_up(exc)
        finally:
            db.close()

    def _writer(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=WRITE_WAIT_S, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                db.execute(statement)
        except BaseException:
            db.close()
            raise
        return db

    def _give_up(self, exc: BaseException) -> None:
        log.info("search replica %s not written (%s); searches read the server for what it lacks", self.path, exc)
        self._writable = False

    def close(self) -> None:
        with self._lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
