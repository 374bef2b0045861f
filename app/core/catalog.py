"""The library catalog: one SQLite file (WAL) holding tracks, tags, status and vectors.

Public API::

    default_db_path() -> Path                 # <platformdirs user data dir>/library.db
    Catalog.open(path, create=True) -> Catalog
    catalog.tracks(status=None) -> list[TrackInfo]; catalog.track_count(status=None)
    catalog.file_states() -> dict[path, FileState]     # what the indexer compares with disk
    catalog.mark_pending(files); catalog.write_batch(records); catalog.remove_paths(paths)
    catalog.load_track_vectors(model_id) -> TrackTable
    catalog.window_vectors(track_ids, model_id) -> dict[int, np.ndarray float16 (n, 256)]

Why it looks like this:
- Every write method is one transaction, so a crash (even ``kill -9``) loses at most the
  batch in flight and never leaves half a track: the row and its vectors change together.
- ``path`` is UNIQUE and writes are upserts, so re-running an interrupted index never
  duplicates a track.
- Vectors are float16 blobs (track vector 512 B, windows 512 B each): a 3-minute track
  costs ~31 KB. They are kept per model id, so a model change is detected, not mixed.
- The schema is versioned with ``PRAGMA user_version``; ``MIGRATIONS[i]`` upgrades from
  version ``i`` to ``i + 1`` inside one transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.core.types import TrackInfo
from model.dimensions import EMBEDDING_SIZE

SCHEMA_VERSION = 1
DB_FILENAME = "library.db"

_SCHEMA_V1 = """
CREATE TABLE tracks (
    id          INTEGER PRIMARY KEY,
    path        TEXT NOT NULL UNIQUE,
    size        INTEGER NOT NULL,
    mtime_ns    INTEGER NOT NULL,
    duration_s  REAL,
    title       TEXT NOT NULL DEFAULT '',
    artist      TEXT NOT NULL DEFAULT '',
    album       TEXT NOT NULL DEFAULT '',
    genre       TEXT NOT NULL DEFAULT '',
    mood        TEXT NOT NULL DEFAULT '',
    bpm         REAL,
    status      TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'ok', 'error')),
    error       TEXT NOT NULL DEFAULT '',
    model_id    TEXT,
    updated_at  REAL NOT NULL
);
CREATE INDEX tracks_status ON tracks(status);
CREATE TABLE embeddings (
    track_id    INTEGER PRIMARY KEY REFERENCES tracks(id) ON DELETE CASCADE,
    model_id    TEXT NOT NULL,
    n_windows   INTEGER NOT NULL,
    padded      INTEGER NOT NULL,
    track       BLOB NOT NULL,
    windows     BLOB NOT NULL
);
CREATE INDEX embeddings_model ON embeddings(model_id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# MIGRATIONS[i] takes a catalog at schema version i to version i + 1 (0 = empty file).
MIGRATIONS: dict[int, str] = {0: _SCHEMA_V1}


class CatalogError(Exception):
    """The catalog cannot be opened or used; ``str(e)`` is a one-line reason."""


def default_db_path() -> Path:
    """``library.db`` in the per-user data dir (``$SOUNDALIKE_DATA_DIR`` overrides the dir)."""
    from app.core.model_registry import user_data_dir

    return user_data_dir() / DB_FILENAME


@dataclass(frozen=True)
class FileState:
    """What the catalog remembers about one file (to decide whether to re-index it)."""

    track_id: int
    size: int
    mtime_ns: int
    status: str
    model_id: str | None


@dataclass(frozen=True)
class TrackRecord:
    """One indexed (or failed) file, ready to be written.

    ``windows`` is ``(n, 256)`` block-normalised; ``track`` is ``(256,)``. Both None when
    ``error`` is set.
    """

    path: str
    size: int
    mtime_ns: int
    duration_s: float | None = None
    tags: dict[str, object] | None = None
    model_id: str | None = None
    track: np.ndarray | None = None
    windows: np.ndarray | None = None
    padded: bool = False
    error: str = ""


@dataclass(frozen=True)
class TrackTable:
    """Track-level vectors of one model plus the columns the search filters use."""

    ids: np.ndarray  # (N,) int64
    vectors: np.ndarray  # (N, 256) float16, each block L2-normalised
    n_windows: np.ndarray  # (N,) int32
    duration_s: np.ndarray  # (N,) float32, NaN unknown
    bpm: np.ndarray  # (N,) float32, NaN unknown
    paths: list[str]
    albums: list[str]

    def __len__(self) -> int:
        return int(self.ids.shape[0])


_TRACK_COLUMNS = "id, path, title, artist, album, duration_s, bpm, genre, mood, status, error"


def _track_info(row: Sequence[object]) -> TrackInfo:
    tid, path, title, artist, album, duration, bpm, genre, mood, status, error = row
    return TrackInfo(
        track_id=int(tid),  # type: ignore[arg-type]
        path=str(path),
        title=str(title),
        artist=str(artist),
        album=str(album),
        duration_s=float(duration or 0.0),  # type: ignore[arg-type]
        bpm=None if bpm is None else float(bpm),  # type: ignore[arg-type]
        genre=str(genre),
        mood=str(mood),
        status=str(status),
        error=str(error),
    )


class Catalog:
    """A connection to one catalog file. Safe to share between threads (calls are serialised).

    Several ``Catalog`` objects (threads or processes) may open the same file: WAL lets
    searches read while the indexer writes.
    """

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self._db = connection
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Catalog:
        """Open (and with ``create``, make) the catalog at ``path`` (default: per-user dir)."""
        db_path = Path(path) if path is not None else default_db_path()
        if not db_path.exists():
            if not create:
                raise CatalogError(
                    f"no library at {db_path}; run `soundalike index DIR` first"
                )
            db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = sqlite3.connect(
                str(db_path), timeout=30.0, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA journal_mode=WAL")
            # NORMAL is durable against a killed process in WAL mode (only power loss can
            # drop the last commits) and much faster than FULL for many small batches.
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute("PRAGMA foreign_keys=ON")
            catalog = cls(db_path, connection)
            catalog._migrate()
        except sqlite3.DatabaseError as exc:
            raise CatalogError(f"cannot open library {db_path}: {exc}") from None
        return catalog

    def _migrate(self) -> None:
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"library {self.path} has schema {version}, newer than this soundalike "
                f"({SCHEMA_VERSION}); update soundalike"
            )
        while version < SCHEMA_VERSION:
            with self.transaction() as db:
                for statement in MIGRATIONS[version].split(";"):
                    if statement.strip():
                        db.execute(statement)
                version += 1
                db.execute(f"PRAGMA user_version={version}")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on any exception)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            else:
                self._db.execute("COMMIT")

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` result (``"ok"`` when healthy)."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return default if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # ------------------------------------------------------------------ reading
    def track_count(self, status: str | None = None) -> int:
        with self._lock:
            if status is None:
                return int(self._db.execute("SELECT count(*) FROM tracks").fetchone()[0])
            sql = "SELECT count(*) FROM tracks WHERE status=?"
            return int(self._db.execute(sql, (status,)).fetchone()[0])

    def tracks(self, status: str | None = None) -> list[TrackInfo]:
        """All tracks (optionally of one status), ordered by path."""
        sql = f"SELECT {_TRACK_COLUMNS} FROM tracks"
        params: tuple[object, ...] = ()
        if status is not None:
            sql += " WHERE status=?"
            params = (status,)
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY path", params).fetchall()
        return [_track_info(row) for row in rows]

    def get_tracks(self, track_ids: Iterable[int]) -> dict[int, TrackInfo]:
        ids = [int(i) for i in track_ids]
        found: dict[int, TrackInfo] = {}
        with self._lock:
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id IN ({marks})"
                for row in self._db.execute(sql, chunk):
                    info = _track_info(row)
                    found[info.track_id] = info
        return found

    def find_track(self, path: str) -> TrackInfo | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE path=?", (path,)
            ).fetchone()
        return None if row is None else _track_info(row)

    def file_states(self) -> dict[str, FileState]:
        sql = (
            "SELECT t.path, t.id, t.size, t.mtime_ns, t.status, e.model_id "
            "FROM tracks t LEFT JOIN embeddings e ON e.track_id = t.id"
        )
        with self._lock:
            rows = self._db.execute(sql).fetchall()
        return {
            str(path): FileState(int(tid), int(size), int(mtime), str(status), model)
            for path, tid, size, mtime, status, model in rows
        }

    def model_counts(self) -> dict[str, int]:
        """How many tracks have vectors from each model id."""
        sql = "SELECT model_id, count(*) FROM embeddings GROUP BY model_id"
        with self._lock:
            return {str(m): int(n) for m, n in self._db.execute(sql)}

    def errors(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every file that could not be indexed."""
        sql = "SELECT path, error FROM tracks WHERE status='error' ORDER BY path"
        with self._lock:
            return [(str(p), str(e)) for p, e in self._db.execute(sql)]

    def load_track_vectors(self, model_id: str) -> TrackTable:
        """Every indexed track's vector for ``model_id`` (rows ordered by track id)."""
        sql = (
            "SELECT t.id, e.track, e.n_windows, t.duration_s, t.bpm, t.path, t.album "
            "FROM tracks t JOIN embeddings e ON e.track_id = t.id "
            "WHERE t.status='ok' AND e.model_id=? ORDER BY t.id"
        )
        with self._lock:
            rows = self._db.execute(sql, (model_id,)).fetchall()
        n = len(rows)
        vectors = np.empty((n, EMBEDDING_SIZE), dtype=np.float16)
        for i, row in enumerate(rows):
            vectors[i] = np.frombuffer(row[1], dtype=np.float16)
        return TrackTable(
            ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
            vectors=vectors,
            n_windows=np.fromiter((r[2] for r in rows), dtype=np.int32, count=n),
            duration_s=np.array([np.nan if r[3] is None else r[3] for r in rows], np.float32),
            bpm=np.array([np.nan if r[4] is None else r[4] for r in rows], np.float32),
            paths=[str(r[5]) for r in rows],
            albums=[str(r[6]) for r in rows],
        )

    def window_vectors(self, track_ids: Iterable[int], model_id: str) -> dict[int, np.ndarray]:
        """``{track_id: (n_windows, 256) float16}`` for the given tracks (missing ids absent)."""
        ids = [int(i) for i in track_ids]
        found: dict[int, np.ndarray] = {}
        with self._lock:
            for chunk in _chunks(ids, 500):
                marks = ",".join("?" * len(chunk))
                sql = (
                    "SELECT track_id, n_windows, windows FROM embeddings "
                    f"WHERE model_id=? AND track_id IN ({marks})"
                )
                for tid, n, blob in self._db.execute(sql, [model_id, *chunk]):
                    found[int(tid)] = np.frombuffer(blob, dtype=np.float16).reshape(
                        int(n), EMBEDDING_SIZE
                    )
        return found

    # ------------------------------------------------------------------ writing
    def mark_pending(self, files: Iterable[tuple[str, int, int]]) -> None:
        """Record ``(path, size, mtime_ns)`` as to-be-indexed (new rows or changed files)."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO tracks(path, size, mtime_ns, status, updated_at) "
                "VALUES(?, ?, ?, 'pending', ?) ON CONFLICT(path) DO UPDATE SET "
                "size=excluded.size, mtime_ns=excluded.mtime_ns, status='pending', "
                "error='', updated_at=excluded.updated_at",
                ((path, size, mtime, now) for path, size, mtime in files),
            )

    def write_batch(self, records: Sequence[TrackRecord]) -> None:
        """Store finished files (vectors or error) in ONE transaction."""
        now = time.time()
        with self.transaction() as db:
            for rec in records:
                tags = rec.tags or {}
                bpm = tags.get("bpm")
                status = "error" if rec.error else "ok"
                row = db.execute(
                    "INSERT INTO tracks(path, size, mtime_ns, duration_s, title, artist, album, "
                    "genre, mood, bpm, status, error, model_id, updated_at) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                    "size=excluded.size, mtime_ns=excluded.mtime_ns, duration_s=excluded.duration_s, "
                    "title=excluded.title, artist=excluded.artist, album=excluded.album, "
                    "genre=excluded.genre, mood=excluded.mood, bpm=excluded.bpm, "
                    "status=excluded.status, error=excluded.error, model_id=excluded.model_id, "
                    "updated_at=excluded.updated_at RETURNING id",
                    (
                        rec.path, rec.size, rec.mtime_ns, rec.duration_s,
                        str(tags.get("title") or ""), str(tags.get("artist") or ""),
                        str(tags.get("album") or ""), str(tags.get("genre") or ""),
                        str(tags.get("mood") or ""), None if bpm is None else float(bpm),  # type: ignore[arg-type]
                        status, rec.error, None if rec.error else rec.model_id, now,
                    ),
                ).fetchone()
                track_id = int(row[0])
                if rec.error or rec.track is None or rec.windows is None:
                    db.execute("DELETE FROM embeddings WHERE track_id=?", (track_id,))
                    continue
                windows = np.ascontiguousarray(rec.windows, dtype=np.float16)
                track = np.ascontiguousarray(rec.track, dtype=np.float16).reshape(EMBEDDING_SIZE)
                db.execute(
                    "INSERT INTO embeddings(track_id, model_id, n_windows, padded, track, windows) "
                    "VALUES(?, ?, ?, ?, ?, ?) ON CONFLICT(track_id) DO UPDATE SET "
                    "model_id=excluded.model_id, n_windows=excluded.n_windows, "
                    "padded=excluded.padded, track=excluded.track, windows=excluded.windows",
                    (
                        track_id, rec.model_id, int(windows.shape[0]), int(rec.padded),
                        track.tobytes(), windows.tobytes(),
                    ),
                )

    def remove_paths(self, paths: Iterable[str]) -> int:
        """Forget files (their vectors go too). Returns how many rows were removed."""
        removed = 0
        with self.transaction() as db:
            for chunk in _chunks(list(paths), 500):
                marks = ",".join("?" * len(chunk))
                removed += db.execute(f"DELETE FROM tracks WHERE path IN ({marks})", chunk).rowcount
        return removed


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
