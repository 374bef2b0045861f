"""The catalog's writes: ``Catalog``'s methods that change tracks and their vectors.

A mixin of ``Catalog`` (app.core.catalog), which provides ``transaction``: every method
here is one transaction, so a crash loses at most the batch in flight and never leaves
half a track. The PostgreSQL catalog (app.core.catalog_pg) inherits them too.

Public API (as methods of ``Catalog``)::

    catalog.mark_pending(files); catalog.write_batch(records); catalog.remove_paths(paths)
    catalog.relink(moves, copies); catalog.set_status(ids, status); catalog.set_fingerprints(pairs)
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager

import numpy as np

from app.core.catalog_io import _chunks, _enc
from app.core.catalog_records import Relink, TrackRecord
from app.core.types import display_path
from model.dimensions import EMBEDDING_SIZE

# Every tracks column but id and the file's identity (path, size, mtime, fingerprint).
_CONTENT_COLUMNS = (
    "duration_s, title, artist, album, genre, mood, bpm, bpm_source, loudness_lufs, status, error, "
    "model_id"
)


class CatalogWrites:
    """The writing methods of ``Catalog``, which provides ``transaction``."""

    transaction: Callable[[], AbstractContextManager[sqlite3.Connection]]

    def mark_pending(self, files: Iterable[tuple[str, int, int, str | None]]) -> None:
        """Record ``(path, size, mtime_ns, fingerprint)`` as to-be-indexed (new or changed)."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "INSERT INTO tracks(path, size, mtime_ns, fingerprint, status, updated_at) "
                "VALUES(?, ?, ?, ?, 'pending', ?) ON CONFLICT(path) DO UPDATE SET "
                "size=excluded.size, mtime_ns=excluded.mtime_ns, fingerprint=excluded.fingerprint, "
                "status='pending', error='', updated_at=excluded.updated_at",
                ((_enc(path), size, mtime, fp, now) for path, size, mtime, fp in files),
            )

    def write_batch(self, records: Sequence[TrackRecord]) -> None:
        """Store finished files (vectors or error) in ONE transaction."""
        now = time.time()
        with self.transaction() as db:
            for rec in records:
                tags = rec.tags or {}
                bpm, bpm_source = rec.bpm()
                status = "error" if rec.error else "ok"
                row = db.execute(
                    "INSERT INTO tracks(path, size, mtime_ns, duration_s, title, artist, album, "
                    "genre, mood, bpm, status, error, model_id, updated_at, fingerprint, "
                    "bpm_source, loudness_lufs) "
                    "VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(path) DO UPDATE SET "
                    "size=excluded.size, mtime_ns=excluded.mtime_ns, duration_s=excluded.duration_s, "
                    "title=excluded.title, artist=excluded.artist, album=excluded.album, "
                    "genre=excluded.genre, mood=excluded.mood, bpm=excluded.bpm, "
                    "bpm_source=excluded.bpm_source, loudness_lufs=excluded.loudness_lufs, "
                    "status=excluded.status, error=excluded.error, model_id=excluded.model_id, "
                    "updated_at=excluded.updated_at, "
                    "fingerprint=coalesce(excluded.fingerprint, tracks.fingerprint) RETURNING id",
                    (
                        _enc(rec.path), rec.size, rec.mtime_ns, rec.duration_s,
                        str(tags.get("title") or ""), str(tags.get("artist") or ""),
                        str(tags.get("album") or ""), str(tags.get("genre") or ""),
                        str(tags.get("mood") or ""), bpm,
                        status, display_path(rec.error), None if rec.error else rec.model_id, now, rec.fingerprint,
                        bpm_source, rec.loudness_lufs,
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

    def relink(self, moves: Sequence[Relink], copies: Sequence[Relink]) -> None:
        """Moved files take their row along; copies get a new row with the same vectors.

        Whatever row held the target path before (an older file there) is replaced. One
        transaction for all: a crash leaves either the old layout or the new one.
        """
        now = time.time()
        with self.transaction() as db:
            for link in (*moves, *copies):
                db.execute("DELETE FROM tracks WHERE path=? AND id<>?", (_enc(link.path), link.track_id))
            for link in moves:
                db.execute(
                    "UPDATE tracks SET path=?, size=?, mtime_ns=?, fingerprint=?, status='ok', "
                    "updated_at=? WHERE id=?",
                    (_enc(link.path), link.size, link.mtime_ns, link.fingerprint, now, link.track_id),
                )
            for link in copies:
                new_id = db.execute(
                    f"INSERT INTO tracks(path, size, mtime_ns, fingerprint, updated_at, {_CONTENT_COLUMNS}) "
                    f"SELECT ?, ?, ?, ?, ?, {_CONTENT_COLUMNS} FROM tracks WHERE id=? RETURNING id",
                    (_enc(link.path), link.size, link.mtime_ns, link.fingerprint, now, link.track_id),
                ).fetchone()[0]
                db.execute("UPDATE tracks SET status='ok' WHERE id=?", (new_id,))
                db.execute(
                    "INSERT INTO embeddings(track_id, model_id, n_windows, padded, track, windows) "
                    "SELECT ?, model_id, n_windows, padded, track, windows FROM embeddings "
                    "WHERE track_id=?",
                    (new_id, link.track_id),
                )

    def set_status(self, track_ids: Iterable[int], status: str) -> None:
        """Mark tracks ``missing`` (file gone, vectors kept) or ``ok`` again (file back)."""
        now = time.time()
        with self.transaction() as db:
            db.executemany(
                "UPDATE tracks SET status=?, updated_at=? WHERE id=?",
                ((status, now, int(i)) for i in track_ids),
            )

    def set_fingerprints(self, pairs: Iterable[tuple[int, str]]) -> None:
        """Store ``(track_id, fingerprint)`` for rows that had none (catalogs from schema 1)."""
        with self.transaction() as db:
            db.executemany("UPDATE tracks SET fingerprint=? WHERE id=?", ((fp, int(i)) for i, fp in pairs))

    def remove_paths(self, paths: Iterable[str]) -> int:
        """Forget files (their vectors go too). Returns how many rows were removed."""
        removed = 0
        with self.transaction() as db:
            for chunk in _chunks([_enc(p) for p in paths], 500):
                marks = ",".join("?" * len(chunk))
                removed += db.execute(f"DELETE FROM tracks WHERE path IN ({marks})", chunk).rowcount
        return removed
