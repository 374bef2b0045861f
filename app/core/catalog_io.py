"""Opening the catalog's SQLite file, and SQLite's failures as one-line reasons.

Public API::

    connect(db_path) -> sqlite3.Connection     # WAL; read-only when the file cannot be written
    sqlite_reason(exc, db_path) -> str          # "the disk is full (...); free some space ..."
    CatalogError                                # what app.core.catalog raises, one line
    is_database_url(text) -> bool               # "postgresql://..." (the studio catalog)
    redact_url(url) -> str                      # the URL with its password hidden

and how values are stored: paths as BLOBs of the OS's bytes (``_enc``/``_dec``), and
parameter lists cut into chunks SQLite takes in one statement (``_chunks``).
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

LOW_SPACE_BYTES = 256 * 1024  # less free than this and an I/O error is a full disk


DATABASE_SCHEMES = ("postgresql://", "postgres://")


class CatalogError(Exception):
    """The catalog cannot be opened or used; ``str(e)`` is a one-line reason."""


def is_database_url(text: str) -> bool:
    """Whether ``--db`` names a PostgreSQL server rather than a SQLite file."""
    return text.lower().startswith(DATABASE_SCHEMES)


def redact_url(url: str) -> str:
    """``url`` fit for messages and logs: ``postgresql://user:secret@host`` loses ``:secret``."""
    scheme, _, rest = url.partition("://")
    netloc, slash, tail = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{host}"
    tail = re.sub(r"(?i)(password=)[^&]*", r"\1***", tail)
    return f"{scheme}://{netloc}{slash}{tail}"


def sqlite_reason(exc: sqlite3.Error, path: Path) -> str:
    """SQLite's message, with what the user can do about the common I/O failures.

    SQLite reports a full disk as "disk I/O error" when it is its shared-memory file that
    cannot grow, so the free space of the catalog's folder is checked too.
    """
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    low = text.lower()
    if "full" in low or ("disk i/o" in low and _free_bytes(path.parent) < LOW_SPACE_BYTES):
        return f"the disk is full ({text}); free some space and run again"
    if "readonly" in low or "read-only" in low:
        return f"the library file is read-only ({text})"
    if "disk i/o" in low or "unable to open" in low:
        return f"{text} (was the drive removed or is the folder not writable?)"
    return text


def _free_bytes(folder: Path) -> int:
    try:
        info = os.statvfs(folder)
    except (OSError, AttributeError):  # gone, or no statvfs (Windows)
        return LOW_SPACE_BYTES
    return info.f_bavail * info.f_frsize


def connect(db_path: Path) -> sqlite3.Connection:
    """A WAL connection; read-only when the file or its folder cannot be written.

    A library on a read-only share or a write-protected drive can still be searched;
    writing to it fails with a one-line "read-only" reason.
    """

    def open_db(target: str, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(
            target, timeout=30.0, isolation_level=None, check_same_thread=False, uri=uri
        )

    try:
        connection = open_db(str(db_path))
        connection.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        writable = os.access(db_path, os.W_OK) and os.access(db_path.parent, os.W_OK)
        if writable or not db_path.is_file():
            raise
        # immutable: no -shm/-wal can be made next to the file, and nothing else writes it.
        connection = open_db(f"{db_path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
        connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return connection
    # NORMAL is durable against a killed process in WAL mode (only power loss can drop
    # the last commits) and much faster than FULL for many small batches.
    connection.execute("PRAGMA synchronous=NORMAL")
    return connection


def _enc(path: str) -> bytes:
    return os.fsencode(path)


def _dec(blob: object) -> str:
    return os.fsdecode(bytes(blob))  # type: ignore[arg-type]


def _chunks(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
