"""The library catalog: one SQLite file (WAL) holding tracks, tags, status and vectors.

Public API::

    default_db_path() -> Path                 # <platformdirs user data dir>/library.db
    Catalog.open(path, create=True) -> Catalog
    catalog.tracks(status=None) -> list[TrackInfo]; catalog.track_count(status=None)
    catalog.file_states() -> dict[path, FileState]     # what the indexer compares with disk
    catalog.mark_pending(files); catalog.write_batch(records); catalog.remove_paths(paths)
    catalog.relink(moves, copies); catalog.set_status(ids, status); catalog.set_fingerprints(pairs)
    catalog.load_track_vectors(model_id) -> TrackTable
    catalog.vector_changes(model_id, since) -> VectorChanges  # for local vector caches
    catalog.window_vectors(track_ids, model_id) -> dict[int, np.ndarray float16 (n, 256)]
    catalog.search_sources(model_id) -> (windows, infos)       # what a search reads per query
    catalog.ids_with_fingerprints(fingerprints) -> set[int]

Why it looks like this:
- Every write method is one transaction, so a crash (even ``kill -9``) loses at most the
  batch in flight and never leaves half a track: the row and its vectors change together.
- Any SQLite failure (disk full, read-only file, a drive that went away) is raised as
  ``CatalogError`` with a one-line reason after the transaction rolled back: the file stays
  consistent and the next run resumes.
- Paths are ``str`` in the API (undecodable bytes as surrogate escapes, like ``os.listdir``)
  and BLOBs of the OS's bytes in the file (``os.fsencode``), so every name the OS allows is
  stored losslessly. ``path`` is UNIQUE and writes are upserts, so re-running an
  interrupted index never duplicates a track.
- A content ``fingerprint`` per track (app.core.fingerprint) lets the indexer move or copy
  a track's row and vectors to a new path instead of decoding the file again.
- Vectors are float16 blobs (track vector 512 B, windows 512 B each): a 3-minute track
  costs ~31 KB. They are kept per model id, so a model change is detected, not mixed.
- The schema is versioned (app.core.catalog_schema); opening and error reasons live in
  app.core.catalog_io; the writing methods in app.core.catalog_writes (a mixin).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from app.core.catalog_changes import VectorChanges, read_vector_changes
from app.core.catalog_io import (
    CatalogError,
    _chunks,
    _dec,
    _enc,
    connect,
    is_database_url,
    sqlite_reason,
)
from app.core.catalog_records import FileState, TrackTable
from app.core.catalog_records import Relink as Relink  # re-exported: callers import it from here
from app.core.catalog_records import TrackRecord as TrackRecord  # re-exported, as Relink
from app.core.catalog_schema import MIGRATIONS, READABLE_FROM, SCHEMA_VERSION, statements
from app.core.catalog_writes import CatalogWrites
from app.core.types import TrackInfo
from model.dimensions import EMBEDDING_SIZE

DB_FILENAME = "library.db"
MODEL_PATH_KEY = "model_path:"  # meta key prefix: model id -> the model file's path


def default_db_path() -> Path:
    """``library.db`` in the per-user data dir (``$SOUNDALIKE_DATA_DIR`` overrides the dir)."""
    from app.core.model_registry import user_data_dir

    return user_data_dir() / DB_FILENAME


_TRACK_COLUMNS = (
    "id, path, title, artist, album, duration_s, bpm, genre, mood, status, error, loudness_lufs"
)


def _track_info(row: Sequence[object]) -> TrackInfo:
    tid, path, title, artist, album, duration, bpm, genre, mood, status, error, lufs = row
    return TrackInfo(
        track_id=int(tid),  # type: ignore[arg-type]
        path=_dec(path),
        title=str(title),
        artist=str(artist),
        album=str(album),
        duration_s=float(duration or 0.0),  # type: ignore[arg-type]
        bpm=None if bpm is None else float(bpm),  # type: ignore[arg-type]
        genre=str(genre),
        mood=str(mood),
        status=str(status),
        error=str(error),
        loudness_lufs=None if lufs is None else float(lufs),  # type: ignore[arg-type]
    )


class Catalog(CatalogWrites):
    """A connection to one catalog file. Safe to share between threads (calls are serialised).

    Several ``Catalog`` objects (threads or processes) may open the same file: WAL lets
    searches read while the indexer writes.
    """

    # What a failed statement raises, and its one-line reason (the PostgreSQL backend,
    # app.core.catalog_pg, overrides both; its SQL is this class's, placeholders translated).
    _errors: tuple[type[BaseException], ...] = (sqlite3.Error,)
    # Written by other machines while this process runs (a studio's PostgreSQL catalog):
    # the app then syncs its search with it periodically (app.services.library_service).
    shared = False

    def __init__(self, path: Path, connection: sqlite3.Connection) -> None:
        self.path = path
        self.cache_base = path  # local caches of this catalog are named "<cache_base>.<...>"
        self._db = connection
        self._lock = threading.RLock()

    def _reason(self, exc: BaseException) -> str:
        return sqlite_reason(exc, self.path)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *, create: bool = True) -> Catalog:
        """Open (and with ``create``, make) the catalog at ``path`` (default: per-user dir).

        A ``postgresql://`` URL opens the shared studio catalog (app.core.catalog_pg).
        """
        if isinstance(path, str) and is_database_url(path):
            from app.core.catalog_pg import PgCatalog

            return PgCatalog.open(path, create=create)
        db_path = Path(path) if path is not None else default_db_path()
        if not db_path.exists():
            if not create:
                raise CatalogError(
                    f"no library at {db_path}; run `soundalike index DIR` first"
                )
            try:
                db_path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise CatalogError(f"cannot create library {db_path}: {exc.strerror or exc}") from None
        try:
            catalog = cls(db_path, connect(db_path))
            catalog._migrate()
            catalog._db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, CatalogError) as exc:
            reason = str(exc) if isinstance(exc, CatalogError) else sqlite_reason(exc, db_path)
            raise CatalogError(f"cannot open library {db_path}: {reason}") from None
        return catalog

    def _migrate(self) -> None:
        """Run the pending migrations (foreign keys are still off: see catalog_schema)."""
        version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise CatalogError(
                f"schema {version} is newer than this soundalike's ({SCHEMA_VERSION}); "
                "update soundalike"
            )
        while version < SCHEMA_VERSION:
            try:
                with self.transaction() as db:
                    for statement in statements(MIGRATIONS[version]):
                        db.execute(statement)
                    version += 1
                    db.execute(f"PRAGMA user_version={version}")
            except CatalogError as exc:
                if version >= READABLE_FROM and "read-only" in str(exc):
                    return  # an older catalog on a read-only medium: searched as it is
                raise

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Catalog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on any exception).

        SQLite failures leave as ``CatalogError`` with a one-line reason.
        """
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    if self._db.in_transaction:  # SQLite may have rolled back already
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except self._errors as exc:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise CatalogError(f"cannot write library {self.path}: {self._reason(exc)}") from None

    def _rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple]:
        """Run one read; SQLite failures leave as ``CatalogError``."""
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except self._errors as exc:
                raise CatalogError(f"cannot read library {self.path}: {self._reason(exc)}") from None

    def _chunked_rows(self, sql: str, ids: list, head: Sequence[object] = ()) -> Iterator[tuple]:
        """``sql`` has one ``{marks}`` placeholder for up to 500 of ``ids`` at a time."""
        for chunk in _chunks(ids, 500):
            yield from self._rows(sql.format(marks=",".join("?" * len(chunk))), [*head, *chunk])

    @property
    def location(self) -> str:
        """What ``Catalog.open`` takes to open this catalog again (a second connection)."""
        return os.fspath(self.path)

    def integrity_problems(self, stop: Callable[[], bool] | None = None) -> list[str]:
        """What is wrong, one sentence each ([] when healthy): app.core.catalog_check."""
        from app.core.catalog_check import row_problems, sqlite_problems

        with self._lock:
            try:
                damaged, problems = sqlite_problems(self._db, stop)
                version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
            except sqlite3.Error as exc:
                raise CatalogError(f"cannot read library {self.path}: {self._reason(exc)}") from None
        if damaged:
            return problems  # the row checks would read garbage
        if version < SCHEMA_VERSION:  # read-only, so never migrated (see _migrate)
            return [*problems, f"schema version {version}, expected {SCHEMA_VERSION}: it is updated where it may be written"]
        return problems + row_problems(self._rows)

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key=?", (key,))
        return default if not rows else str(rows[0][0])

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                (key, value),
            )

    # ------------------------------------------------------------------ reading
    def track_count(self, status: str | None = None) -> int:
        if status is None:
            return int(self._rows("SELECT count(*) FROM tracks")[0][0])
        return int(self._rows("SELECT count(*) FROM tracks WHERE status=?", (status,))[0][0])

    def tracks(self, status: str | None = None) -> list[TrackInfo]:
        """All tracks (optionally of one status), ordered by path."""
        sql = f"SELECT {_TRACK_COLUMNS} FROM tracks"
        params: tuple[object, ...] = ()
        if status is not None:
            sql += " WHERE status=?"
            params = (status,)
        return [_track_info(row) for row in self._rows(sql + " ORDER BY path", params)]

    def get_tracks(self, track_ids: Iterable[int]) -> dict[int, TrackInfo]:
        sql = f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE id IN ({{marks}})"
        infos = (_track_info(row) for row in self._chunked_rows(sql, [int(i) for i in track_ids]))
        return {info.track_id: info for info in infos}

    def find_track(self, path: str) -> TrackInfo | None:
        rows = self._rows(f"SELECT {_TRACK_COLUMNS} FROM tracks WHERE path=?", (_enc(path),))
        return None if not rows else _track_info(rows[0])

    def file_states(self) -> dict[str, FileState]:
        sql = (
            "SELECT t.path, t.id, t.size, t.mtime_ns, t.status, e.model_id, t.fingerprint "
            "FROM tracks t LEFT JOIN embeddings e ON e.track_id = t.id"
        )
        return {
            _dec(path): FileState(int(tid), int(size), int(mtime), str(status), model, fp)
            for path, tid, size, mtime, status, model, fp in self._rows(sql)
        }

    def ids_with_fingerprints(self, fingerprints: Iterable[str]) -> set[int]:
        """Track ids whose content is one of ``fingerprints`` (exact duplicates included)."""
        sql = "SELECT id FROM tracks WHERE fingerprint IN ({marks})"
        return {int(row[0]) for row in self._chunked_rows(sql, list(fingerprints))}

    def model_counts(self) -> dict[str, int]:
        """How many searchable tracks have vectors from each model id."""
        # Counted through the indexes (embeddings_model, tracks_status): a join over every
        # row reads one page per track (its vectors share the page), seconds at 100k tracks.
        counts = {str(m): int(n) for m, n in self._rows("SELECT model_id, count(*) FROM embeddings GROUP BY model_id")}
        not_ok = (
            "SELECT e.model_id, count(*) FROM tracks t JOIN embeddings e ON e.track_id = t.id "
            "WHERE t.status IN ('pending', 'error', 'missing') GROUP BY e.model_id"
        )
        for model, n in self._rows(not_ok):
            counts[str(model)] -= int(n)
        return {m: n for m, n in counts.items() if n > 0}

    def indexing_models(self) -> tuple[list[str], dict[str, str]]:
        """Model ids with vectors here (most tracks first) and the file each was last seen at."""
        counts = self.model_counts()
        hints = {
            str(key)[len(MODEL_PATH_KEY):]: str(value)
            for key, value in self._rows("SELECT key, value FROM meta WHERE key LIKE ?", (MODEL_PATH_KEY + "%",))
        }
        return sorted(counts, key=lambda m: -counts[m]), hints

    def claim_model(self, model_id: str) -> None:
        """Called before indexing with ``model_id``. A personal library follows its user's
        model (the indexer re-embeds what another model made), so nothing is checked here;
        a shared studio catalog (app.core.catalog_pg) refuses a second model."""

    def note_model_path(self, model_id: str, path: str) -> None:
        """Remember where the model that embeds this library lives (for the CLI's model choice)."""
        if self.get_meta(MODEL_PATH_KEY + model_id) != path:
            self.set_meta(MODEL_PATH_KEY + model_id, path)

    def errors(self) -> list[tuple[str, str]]:
        """``(path, reason)`` of every file that could not be indexed."""
        sql = "SELECT path, error FROM tracks WHERE status='error' ORDER BY path"
        return [(_dec(p), str(e)) for p, e in self._rows(sql)]

    def load_track_vectors(self, model_id: str) -> TrackTable:
        """Every searchable track's vector for ``model_id`` (rows ordered by track id).

        Tracks whose file is missing are left out (their vectors stay for when it returns).
        A search loads these through ``app.core.vector_cache`` (a local copy kept in step by
        ``vector_changes``) rather than from here.
        """
        return self.vector_changes(model_id, None).table

    def vector_changes(self, model_id: str, since: int | None) -> VectorChanges:
        """The searchable vectors changed after counter ``since`` (app.core.catalog_changes)."""
        with self._lock:
            try:
                return read_vector_changes(self._db, model_id, since)
            except self._errors as exc:
                raise CatalogError(f"cannot read library {self.path}: {self._reason(exc)}") from None

    def window_vectors(self, track_ids: Iterable[int], model_id: str) -> dict[int, np.ndarray]:
        """``{track_id: (n_windows, 256) float16}`` for the given tracks (missing ids absent)."""
        sql = (
            "SELECT track_id, n_windows, windows FROM embeddings "
            "WHERE model_id=? AND track_id IN ({marks})"
        )
        return {
            int(tid): np.frombuffer(blob, dtype=np.float16).reshape(int(n), EMBEDDING_SIZE)
            for tid, n, blob in self._chunked_rows(sql, [int(i) for i in track_ids], (model_id,))
        }

    def search_sources(
        self, model_id: str
    ) -> tuple[Callable[[Sequence[int]], dict[int, np.ndarray]], Callable[[Sequence[int]], dict[int, TrackInfo]]]:
        """What a search engine reads at query time besides the track vectors: candidates'
        window vectors and results' details (app.core.search's WindowSource, InfoSource).
        Here the catalog itself; a studio catalog serves them from a local replica."""
        return (lambda ids: self.window_vectors(ids, model_id)), self.get_tracks
