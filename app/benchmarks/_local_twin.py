"""``bench studio``'s yardstick: the same simulated catalog in a local SQLite file, searched
the way the desktop default searches it, timed query for query against the studio client.

Public API::

    bulk_load_sqlite(path, n, model_id, seed=0)    # the rows bench_studio.bulk_load puts in PostgreSQL
    interleaved_latency(engines, queries) -> {name: [seconds, ...]}

Why interleaved: the machine may be shared (a training run), and its load drifts over a
run; timing one engine's queries after the other's would compare two loads. Each query runs
on every engine, in turn order rotated per query, so both see the same load.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def bulk_load_sqlite(path: str | Path, n: int, model_id: str, seed: int = 0) -> None:
    """``n`` synthetic tracks (2 windows each), as app.benchmarks.studio.bulk_load writes them
    to PostgreSQL: same ids, paths, vectors, stamps 1..n; the triggers are set aside during
    the load and put back, as PostgreSQL's are disabled there."""
    from app.benchmarks._catalog import synthetic_tracks
    from app.core.catalog import Catalog

    Catalog.open(path).close()  # the schema
    tracks = synthetic_tracks(n, seed)
    bpms = np.random.default_rng(seed + 2).uniform(70, 170, n).round(1)
    now = time.time()
    db = sqlite3.connect(path, isolation_level=None)
    try:
        db.execute("PRAGMA synchronous=OFF")
        triggers = db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger'").fetchall()
        db.execute("BEGIN")
        for name, _sql in triggers:
            db.execute(f"DROP TRIGGER {name}")
        db.executemany(
            "INSERT INTO tracks (id, path, fingerprint, size, mtime_ns, duration_s, title, album, bpm, "
            "status, model_id, updated_at, rev) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', ?, ?, ?)",
            ((i + 1, f"/bench/{i:07d}.flac".encode(), f"bench-{i}", 1000 + i, i, 5.94, f"Track {i}",
              f"Album {i // 12}", float(bpms[i]), model_id, now, i + 1) for i in range(n)),
        )  # fmt: skip
        db.executemany(
            "INSERT INTO embeddings (track_id, model_id, n_windows, padded, track, windows) VALUES (?, ?, 2, 0, ?, ?)",
            ((i + 1, model_id, tracks[i].tobytes(), tracks[i].tobytes() * 2) for i in range(n)),
        )
        db.execute("UPDATE meta SET value = ? WHERE key = 'change_counter'", (str(n),))
        for _name, sql in triggers:
            db.execute(sql)
        db.execute("COMMIT")
        db.execute("ANALYZE")
    finally:
        db.close()


def interleaved_latency(engines: dict[str, object], queries: Sequence[object]) -> dict[str, list[float]]:
    """Seconds per ``engine.search(query, SearchWeights(), 10)``, every query on every engine."""
    from app.core.types import SearchWeights

    names = list(engines)
    times: dict[str, list[float]] = {name: [] for name in names}
    for q, query in enumerate(queries):
        for k in range(len(names)):
            name = names[(q + k) % len(names)]
            t0 = time.perf_counter()
            engines[name].search(query, SearchWeights(), 10)  # type: ignore[attr-defined]
            times[name].append(time.perf_counter() - t0)
    return times
