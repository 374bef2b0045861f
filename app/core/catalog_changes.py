"""What a local vector cache asks of a catalog: the searchable vectors changed since counter N.

Public API::

    VectorChanges(catalog_id, counter, total, table, removed)
    read_vector_changes(db, model_id, since) -> VectorChanges   # SQLite; one read snapshot

The contract (any catalog backend: SQLite here, PostgreSQL for studios) that
``app.core.vector_cache`` relies on:

- ``catalog_id`` names one catalog's history. A file replaced by another (deleted and
  indexed again, a different library copied over it) has another id, so a cache made
  from the old one is never applied to it.
- ``counter`` only grows. Every change to a track row or its vectors stamps the row with
  a new counter value; a deleted row leaves a tombstone with one. Changes "since N" are
  the rows and tombstones stamped after N, all read in ONE snapshot together with the
  counter (a writer committing in between must not be half seen). A backend whose
  stamps can commit out of order (a PostgreSQL sequence) must serialise stamping, e.g.
  by updating one counter row in the writing transaction, as the SQLite triggers do.
- ``table``: rows changed since N that are searchable now (status ``ok``, vectors of
  ``model_id``), ordered by track id; ``removed``: ids changed since N that are not
  (deleted, missing, failed, re-embedded by another model). ``since=None``: every
  searchable row, ``removed`` empty. A catalog without a counter (an older schema on a
  read-only medium) answers every call with all rows and ``counter`` -1: no cache is kept.
- ``total``: how many rows are searchable now; a cache whose merged row count differs
  is stale (a history the counter cannot see, such as a restored backup) and is rebuilt.
  None when the counter is still ``since``: nothing changed, the counter says so, and
  counting is the one part of a sync that reads every row's index entry (0.06-0.9 s on a
  300k-track PostgreSQL server, as vacuumed or not).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass

import numpy as np

from app.core.catalog_records import TrackTable
from model.dimensions import EMBEDDING_SIZE

_SEARCHABLE = "t.status='ok' AND e.model_id=?"
# How many rows are searchable, counted through the indexes (embeddings_model, tracks_status)
# on both engines: a join over every row reads one page per track (its vectors share the
# page): 0.3 s at 100k tracks on SQLite, 0.46 s at 200k on PostgreSQL (this: 0.015 s).
TOTAL_SQL = (
    "SELECT (SELECT count(*) FROM embeddings WHERE model_id = ?) - (SELECT count(*) "
    "FROM tracks t JOIN embeddings e ON e.track_id = t.id "
    "WHERE t.status IN ('pending', 'error', 'missing') AND e.model_id = ?)"
)


@dataclass(frozen=True)
class VectorChanges:
    """The searchable rows of one model changed after some counter value (see module doc)."""

    catalog_id: str
    counter: int
    total: int | None  # None: not counted, the counter is still ``since``
    table: TrackTable
    removed: np.ndarray  # (m,) int64 track ids


def unchanged(meta: dict, since: int | None) -> bool:
    """Whether the catalog's counter (in its ``meta`` rows) is still ``since``."""
    return since is not None and meta.get("change_counter") == str(since)


def table_from_rows(rows: list[tuple]) -> TrackTable:
    """``(id, track blob, n_windows, duration_s, bpm, path blob, album, fingerprint)`` rows."""
    n = len(rows)
    blob = b"".join(r[1] for r in rows)
    return TrackTable(
        ids=np.fromiter((r[0] for r in rows), dtype=np.int64, count=n),
        vectors=np.frombuffer(bytearray(blob), dtype=np.float16).reshape(n, EMBEDDING_SIZE),
        n_windows=np.fromiter((r[2] for r in rows), dtype=np.int32, count=n),
        duration_s=np.array([np.nan if r[3] is None else r[3] for r in rows], np.float32).reshape(n),
        bpm=np.array([np.nan if r[4] is None else r[4] for r in rows], np.float32).reshape(n),
        paths=[os.fsdecode(bytes(r[5])) for r in rows],
        albums=[str(r[6]) for r in rows],
        fingerprints=[r[7] for r in rows],
    )


def read_vector_changes(db: sqlite3.Connection, model_id: str, since: int | None) -> VectorChanges:
    """The contract above on one SQLite connection (the caller serialises its use)."""
    db.execute("BEGIN")  # deferred: one read snapshot (WAL), writers go on meanwhile
    try:
        meta = dict(db.execute("SELECT key, value FROM meta WHERE key IN ('catalog_id', 'change_counter')"))
        if "change_counter" not in meta:  # schema 3, read-only (not migrated): no counter
            since = None
        # Changes only: walk the rev index (without statistics SQLite would scan every
        # embedding of the model and look each track up).
        tables = "tracks t JOIN embeddings e" if since is None else "tracks t INDEXED BY tracks_rev CROSS JOIN embeddings e"
        newer = "" if since is None else " AND t.rev > ?"
        params = (model_id,) if since is None else (model_id, since)
        rows = db.execute(
            "SELECT t.id, e.track, e.n_windows, t.duration_s, t.bpm, t.path, t.album, t.fingerprint "
            f"FROM {tables} ON e.track_id = t.id WHERE {_SEARCHABLE}{newer} ORDER BY t.id",
            params,
        ).fetchall()
        removed: list[int] = []
        if since is not None:
            removed = [r[0] for r in db.execute(
                "SELECT t.id FROM tracks t LEFT JOIN embeddings e ON e.track_id = t.id "
                "WHERE t.rev > ? AND NOT (t.status='ok' AND coalesce(e.model_id = ?, 0)) "
                "UNION SELECT track_id FROM removed WHERE rev > ?",
                (since, model_id, since),
            )]  # fmt: skip
        total = None if unchanged(meta, since) else db.execute(TOTAL_SQL, (model_id, model_id)).fetchone()[0]
    finally:
        db.execute("COMMIT")
    return VectorChanges(
        catalog_id=str(meta.get("catalog_id", "")),
        counter=int(meta.get("change_counter", -1)),
        total=None if total is None else int(total),
        table=table_from_rows(rows),
        removed=np.array(sorted(removed), dtype=np.int64),
    )
