"""Integrity checks of a catalog, SQLite or PostgreSQL: what ``soundalike check`` and
Library ▸ Check catalog… report.

Public API::

    check_catalog(where, stop=None) -> CatalogReport   # opens its own connection
    catalog.integrity_problems(stop=None) -> list[str]  # one sentence each, [] when healthy

What is checked: each engine checks its own storage first (SQLite: every page and index,
``PRAGMA integrity_check``, and the foreign keys; PostgreSQL checks its pages itself, so
there: the schema version and the library's one model, app.core.catalog_pg). Then, on both,
what the app relies on and an outside hand (a manual edit, a bulk load, a restored backup)
can break: no track stamped after the change counter (local vector caches would never see
it) and no track marked indexed without vectors (it would never be found).

``check_catalog`` opens a connection of its own, so a long check (SQLite reads every page:
minutes on a 1M-track file) never holds the app's connection; ``stop`` is asked every
few thousand SQLite steps and ends the check early with ``CatalogError``.
"""

from __future__ import annotations

import os
import sqlite3
from collections import Counter
from collections.abc import Callable

from app.core.catalog_io import CatalogError
from app.core.types import CatalogReport

MAX_PAGE_PROBLEMS = 20  # SQLite's report of a damaged file, cut at this many lines
STEPS_PER_STOP_CHECK = 1_000  # SQLite VM steps between two calls of ``stop`` (~microseconds)

Stop = Callable[[], bool]


def check_catalog(where: str | os.PathLike[str] | None, stop: Stop | None = None) -> CatalogReport:
    """Check the catalog at ``where`` (a file, a ``postgresql://`` URL, None: the per-user one)."""
    from app.core.catalog import Catalog

    catalog = Catalog.open(where, create=False)
    try:
        problems = catalog.integrity_problems(stop)
        return CatalogReport(str(catalog.path), catalog.track_count(), tuple(problems))
    finally:
        catalog.close()


def sqlite_problems(db: sqlite3.Connection, stop: Stop | None = None) -> tuple[bool, list[str]]:
    """SQLite's own check of every page and index, and of the foreign keys (the caller holds
    the connection's lock): ``(damaged, problems)``; rows of a damaged file are not to be
    trusted, so its problems are the pages' alone."""
    if stop is not None:
        db.set_progress_handler(lambda: int(stop()), STEPS_PER_STOP_CHECK)
    try:
        pages = [str(row[0]) for row in db.execute(f"PRAGMA integrity_check({MAX_PAGE_PROBLEMS})")]
        dangling = Counter(str(row[0]) for row in db.execute("PRAGMA foreign_key_check"))
    except sqlite3.OperationalError as exc:
        if "interrupted" in str(exc):
            raise CatalogError("the check was stopped before it finished") from None
        raise
    finally:
        if stop is not None:
            db.set_progress_handler(None, 0)
    if pages != ["ok"]:
        return True, [f"damaged file: {line}" for line in pages]
    return False, [f"{n} rows of {table} belong to tracks that are gone" for table, n in sorted(dangling.items())]


def row_problems(rows: Callable[[str], list[tuple]]) -> list[str]:
    """What the app relies on, in SQL both engines run (``rows(sql)``: the catalog's reads)."""
    problems = []
    newest, counter = rows(
        "SELECT (SELECT max(rev) FROM tracks), "
        "(SELECT CAST(value AS BIGINT) FROM meta WHERE key = 'change_counter')"
    )[0]
    if newest is not None and counter is not None and newest > counter:
        problems.append(f"tracks stamped {newest}, after the change counter {counter}: "
                        "searches from vector caches miss them")  # fmt: skip
    orphans = rows(
        "SELECT count(*) FROM tracks t WHERE t.status = 'ok' "
        "AND NOT EXISTS (SELECT 1 FROM embeddings e WHERE e.track_id = t.id)"
    )[0][0]
    if orphans:
        problems.append(f"{orphans} tracks marked indexed have no vectors (they are never found; "
                        "the next index run of their folders embeds them again)")  # fmt: skip
    return problems
