"""The catalog on a PostgreSQL server: one library shared by a studio's editors and indexers.

Public API::

    PgCatalog.open("postgresql://user@host/db", create=True) -> PgCatalog   # a Catalog
    # (Catalog.open(url) comes here for any postgresql:// URL, so every --db takes one)

Why it is a subclass: the catalog's SQL (app.core.catalog) is plain enough to run on both
engines (``ON CONFLICT ... DO UPDATE``, ``RETURNING``, ``IN (...)``), so it is written once.
``_Connection`` gives psycopg 3 the few ``sqlite3.Connection`` methods the catalog uses,
turning ``?`` placeholders into ``%s``; what differs lives here: opening, the schema and its
migrations (app.core.catalog_pg_schema), error reasons, and the read of changed vectors
for the clients' local caches (``vector_changes``, one REPEATABLE READ snapshot, streamed
through a server-side cursor in binary so a first sync of 1M tracks never holds every row
as Python objects at once).

Concurrency: each ``PgCatalog`` is one connection (calls serialised, as for SQLite). Many
clients search while indexers on many machines write: PostgreSQL's MVCC lets readers read
without waiting, and writers only wait on each other for the change-counter row, from their
first write to their commit (a few ms per batch).

psycopg is imported here only, so ``import app`` and the desktop bundle never need it.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from app.core.catalog import Catalog
from app.core.catalog_io import CatalogError, redact_url
from app.core.catalog_pg_schema import PG_MIGRATIONS, PG_SCHEMA_VERSION, SCHEMA_LOCK
from app.core.catalog_records import TrackRecord, TrackTable
from app.core.catalog_replica import COLUMNS, SearchReplica
from app.core.table_merge import concat_tables
from app.core.types import TrackInfo

CONNECT_TIMEOUT_S = 10
SYNC_ROWS = 20_000  # rows per fetch of a first sync (bounds the client's transient memory)
REPLICA_ROWS = 1_000  # the same for the replica's rows, which carry every window (30 KB a track)
LIBRARY_MODEL_KEY = "library_model"  # meta: the one model id a studio library is embedded with
MISSING_EXTRA = "the studio catalog needs psycopg: pip install 'soundalike[studio]'"


def model_mismatch(where: str, pinned: str, model_id: str) -> str:
    """One line: why vectors of ``model_id`` are refused by a library pinned to ``pinned``."""
    return (
        f"the library {where} is embedded with model {pinned}; this run's model is {model_id}: "
        f"every machine must use the same model file (pass --model with model {pinned})"
    )


def _psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise CatalogError(MISSING_EXTRA) from None
    return psycopg


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class _Connection:
    """The part of ``sqlite3.Connection`` that app.core.catalog uses, on psycopg 3."""

    def __init__(self, connection: Any) -> None:
        self.raw = connection

    def execute(self, sql: str, params: Sequence[object] = ()) -> Any:
        if sql == "BEGIN IMMEDIATE":  # SQLite's write lock; PostgreSQL locks rows instead
            sql = "BEGIN"
        if not params:
            return self.raw.execute(sql)
        return self.raw.execute(_placeholders(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[object]]) -> Any:
        cursor = self.raw.cursor()
        cursor.executemany(_placeholders(sql), list(rows))
        return cursor

    @property
    def in_transaction(self) -> bool:
        from psycopg import pq

        return self.raw.info.transaction_status != pq.TransactionStatus.IDLE

    def close(self) -> None:
        self.raw.close()


def _placeholders(sql: str) -> str:
    """SQLite's ``?`` as psycopg's ``%s`` (the catalog's SQL has no ``?`` in its literals)."""
    return sql.replace("%", "%%").replace("?", "%s")


def cache_base_for(url: str) -> Path:
    """Where this client keeps its local copies of the catalog at ``url`` (vector caches)."""
    from app.core.model_registry import user_data_dir

    digest = hashlib.sha1(redact_url(url).encode("utf-8")).hexdigest()[:16]
    return user_data_dir() / "studio" / f"catalog-{digest}"


class PgCatalog(Catalog):
    """A ``Catalog`` whose rows live on a PostgreSQL server (``path`` is the redacted URL)."""

    shared = True

    def __init__(self, url: str, connection: Any) -> None:
        self.url = url
        self.path = redact_url(url)  # type: ignore[assignment]  # messages name the URL
        self.cache_base = cache_base_for(url)
        self._db = _Connection(connection)  # type: ignore[assignment]
        self._lock = threading.RLock()
        self._errors = (_psycopg().Error,)
        self._replicas: dict[str, SearchReplica] = {}

    def _reason(self, exc: BaseException) -> str:
        return _one_line(exc)

    @classmethod
    def open(cls, path: Any = None, *, create: bool = True) -> PgCatalog:  # noqa: D417
        """Connect to the database at URL ``path``; with ``create``, make the schema."""
        url = str(path)
        psycopg = _psycopg()
        try:
            connection = psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:
            raise CatalogError(f"cannot open library {redact_url(url)}: {_one_line(exc)}") from None
        catalog = cls(url, connection)
        catalog.cache_base.parent.mkdir(parents=True, exist_ok=True)
        try:
            catalog._migrate_pg(create)
        except BaseException:
            connection.close()
            raise
        return catalog

    def _version(self) -> int:
        rows = self._rows("SELECT to_regclass('meta') IS NOT NULL")
        if not rows[0][0]:
            return 0
        value = self.get_meta("schema_version")
        return 0 if value is None else int(value)

    def _migrate_pg(self, create: bool) -> None:
        version = self._version()
        if version == 0 and not create:
            raise CatalogError(f"no library at {self.path}; run `soundalike index DIR --db URL` first")
        while version < PG_SCHEMA_VERSION:
            with self.transaction() as db:
                db.execute(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})")
                version = self._version()  # another client may have migrated meanwhile
                if version >= PG_SCHEMA_VERSION:
                    break
                target, script = PG_MIGRATIONS[version]
                db.execute(script)
                db.execute(
                    "INSERT INTO meta(key, value) VALUES('schema_version', ?) "
                    "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                    (str(target),),
                )
                version = target
        if version > PG_SCHEMA_VERSION:
            raise CatalogError(
                f"the library {self.path} has schema {version}, newer than this soundalike's "
                f"({PG_SCHEMA_VERSION}); update soundalike"
            )

    # ------------------------------------------------------------------ one model
    def claim_model(self, model_id: str) -> None:
        """The first indexer names the library's model; any other model is refused.

        Many machines write one library: vectors of two models must never be mixed, and one
        editor with another model must not start re-embedding a million tracks.
        """
        with self.transaction() as db:
            db.execute(
                "INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO NOTHING",
                (LIBRARY_MODEL_KEY, model_id),
            )
        self._check_model(model_id)

    def _check_model(self, model_id: str | None) -> None:
        pinned = self.get_meta(LIBRARY_MODEL_KEY)
        if model_id is not None and pinned is not None and model_id != pinned:
            raise CatalogError(model_mismatch(self.path, pinned, model_id))

    def write_batch(self, records: Sequence[TrackRecord]) -> None:
        """As ``Catalog.write_batch``, after checking every record's model is the library's."""
        for model_id in {rec.model_id for rec in records if not rec.error}:
            self._check_model(model_id)
        super().write_batch(records)

    @property
    def location(self) -> str:
        return self.url

    def integrity_problems(self, stop: Callable[[], bool] | None = None) -> list[str]:
        """As ``Catalog.integrity_problems`` (app.core.catalog_check). PostgreSQL checks its
        own pages; this checks, through indexes only (milliseconds at 1M tracks, but the
        orphan count: one anti-join of two primary-key scans; ``stop`` is not needed), that
        the schema is this soundalike's and every vector of the library's model
        (``library_model``), then what both engines check.
        """
        from app.core.catalog_check import row_problems

        if self._version() != PG_SCHEMA_VERSION:
            return [f"schema version {self._version()}, expected {PG_SCHEMA_VERSION}"]
        problems = []
        pinned = self.get_meta(LIBRARY_MODEL_KEY)
        if pinned is not None and self._rows(
            "SELECT EXISTS(SELECT 1 FROM embeddings WHERE model_id < ?) "
            "OR EXISTS(SELECT 1 FROM embeddings WHERE model_id > ?)", (pinned, pinned),
        )[0][0]:  # fmt: skip
            models = sorted(model for model in self.model_counts() if model != pinned)
            problems.append(f"vectors of other models than the library's {pinned}: {', '.join(models)}")
        return problems + row_problems(self._rows)

    # ------------------------------------------------------------------ vector caches
    def replica(self, model_id: str) -> SearchReplica:
        """This client's local copy of ``model_id``'s search details (app.core.catalog_replica)."""
        with self._lock:
            replica = self._replicas.get(model_id)
            if replica is None:
                replica = self._replicas[model_id] = SearchReplica(f"{self.cache_base}.{model_id}.search", model_id)
            return replica

    def search_sources(
        self, model_id: str
    ) -> tuple[Callable[[Sequence[int]], dict[int, np.ndarray]], Callable[[Sequence[int]], dict[int, TrackInfo]]]:
        """Windows and details from the local replica, synced with the vector cache; the
        server is asked only for ids the replica lacks (app.core.catalog_replica)."""
        replica = self.replica(model_id)

        def windows(ids: Sequence[int]) -> dict[int, np.ndarray]:
            found = replica.windows(ids)
            missing = [int(i) for i in ids if int(i) not in found]
            return {**found, **self.window_vectors(missing, model_id)} if missing else found

        def infos(ids: Sequence[int]) -> dict[int, TrackInfo]:
            found = replica.infos(ids)
            missing = [int(i) for i in ids if int(i) not in found]
            return {**found, **self.get_tracks(missing)} if missing else found

        return windows, infos

    def close(self) -> None:
        super().close()
        for replica in list(self._replicas.values()):
            replica.close()

    def vector_changes(self, model_id: str, since: int | None):  # noqa: ANN201
        """The searchable vectors changed after counter ``since`` (app.core.catalog_changes)."""
        from app.core.catalog_changes import TOTAL_SQL, VectorChanges, unchanged

        raw = self._db.raw  # type: ignore[attr-defined]
        with self._lock:
            try:
                raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                try:
                    meta = dict(raw.execute(
                        "SELECT key, value FROM meta WHERE key IN ('catalog_id', 'change_counter')"
                    ).fetchall())  # fmt: skip
                    # A first read leaves room for the tracks indexers add next (app.core.table_merge).
                    table = concat_tables(list(self._changed_rows(raw, model_id, since)), room=since is None)
                    removed = [] if since is None else _unsearchable(raw, model_id, since)
                    total = None if unchanged(meta, since) else raw.execute(
                        _placeholders(TOTAL_SQL), (model_id, model_id)
                    ).fetchone()[0]
                    # In this snapshot too: what searches read besides the vectors (catalog_replica).
                    self.replica(model_id).update(
                        str(meta.get("catalog_id", "")), int(meta.get("change_counter", 0)), since,
                        lambda start: _replica_rows(raw, model_id, start),
                        lambda start: _unsearchable(raw, model_id, start),
                    )  # fmt: skip
                finally:
                    raw.execute("COMMIT")
            except self._errors as exc:
                raise CatalogError(f"cannot read library {self.path}: {self._reason(exc)}") from None
        return VectorChanges(
            catalog_id=str(meta.get("catalog_id", "")),
            counter=int(meta.get("change_counter", 0)),
            total=None if total is None else int(total),
            table=table,
            removed=np.array(sorted(removed), dtype=np.int64),
        )

    def _changed_rows(self, raw: Any, model_id: str, since: int | None) -> Iterator[TrackTable]:
        """The searchable rows changed after ``since``, in binary.

        A first sync (``since`` None) streams every row through a server-side cursor,
        ``SYNC_ROWS`` at a time. Changes since a counter are few and fetched at once: a cursor
        would be planned for its first rows (``cursor_tuple_fraction``), walking the primary
        key in ``ORDER BY`` order through all 1M rows instead of the ``rev`` index.
        """
        from app.core.catalog_changes import table_from_rows

        newer = "" if since is None else " AND t.rev > %s"
        params = (model_id,) if since is None else (model_id, since)
        sql = (
            "SELECT t.id, e.track, e.n_windows, t.duration_s, t.bpm, t.path, t.album, "
            "t.fingerprint FROM tracks t JOIN embeddings e ON e.track_id = t.id "
            f"WHERE t.status='ok' AND e.model_id=%s{newer} ORDER BY t.id"
        )
        for rows in _batches(raw, sql, params, "soundalike_sync", SYNC_ROWS if since is None else None):
            yield table_from_rows(rows)



def _unsearchable(raw: Any, model_id: str, since: int) -> list[int]:
    """Ids changed after ``since`` that are not searchable now (deleted, failed, missing,
    embedded by another model)."""
    return [r[0] for r in raw.execute(
        "SELECT t.id FROM tracks t LEFT JOIN embeddings e ON e.track_id = t.id "
        "WHERE t.rev > %s AND NOT (t.status='ok' AND coalesce(e.model_id = %s, false)) "
        "UNION SELECT track_id FROM removed WHERE rev > %s",
        (since, model_id, since),
    ).fetchall()]  # fmt: skip


def _replica_rows(raw: Any, model_id: str, since: int | None) -> Iterator[list[tuple]]:
    """The searchable rows changed after ``since`` (all for None) in the replica's columns,
    in batches (a full read through a server-side cursor, as ``_changed_rows``)."""
    columns = ", ".join(("e." if c in ("n_windows", "windows") else "t.") + c for c in COLUMNS.split(", "))
    newer = "" if since is None else " AND t.rev > %s"
    params = (model_id,) if since is None else (model_id, since)
    sql = (f"SELECT {columns} FROM tracks t JOIN embeddings e ON e.track_id = t.id "
           f"WHERE t.status='ok' AND e.model_id=%s{newer} ORDER BY t.id")  # fmt: skip
    return _batches(raw, sql, params, "soundalike_replica", REPLICA_ROWS if since is None else None)


def _batches(raw: Any, sql: str, params: tuple, cursor_name: str, rows_per_fetch: int | None) -> Iterator[list[tuple]]:
    """``sql``'s rows in binary: all at once (``rows_per_fetch`` None: the few changes since a
    counter), or ``rows_per_fetch`` at a time through the server-side cursor ``cursor_name``
    (a full read, whose size the client's transient memory must not follow)."""
    if rows_per_fetch is None:
        yield raw.execute(sql, params, binary=True).fetchall()
        return
    with raw.cursor(name=cursor_name, binary=True) as cursor:
        cursor.itersize = rows_per_fetch
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(rows_per_fetch):
            yield rows
