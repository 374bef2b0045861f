"""``soundalike bench studio``: the studio library (PostgreSQL catalog, Ray indexing) at scale.

What it measures (load average printed with every timing: the machine may be shared):
1. A simulated catalog of ``--tracks`` synthetic tracks (default 1M; vectors shaped like a
   trained model's, app.benchmarks._catalog) in PostgreSQL, bulk-loaded with COPY. Then, in
   a fresh client process (so its memory is the client's alone): the first sync of the
   local vector cache (time, resident and peak memory, cache file size), a sync with nothing
   new, two incremental syncs, each after an indexer wrote ``--new`` tracks through
   ``Catalog.write_batch`` (the cache kept in memory across syncs, as the app's Library keeps
   it), a restart (the cache file read back, then synced), and the p50/p95
   latency of ``--queries`` searches on the synced cache (track level from the cache, the
   candidates' windows and the results' details from the client's search replica, synced with
   it: app.core.catalog_replica; as the app searches), against the same searches on
   the same tracks in a local SQLite catalog (the desktop default; app.benchmarks._local_twin),
   query for query, interleaved so that both see the same machine load.
2. Indexing throughput (x realtime) on the same files, into PostgreSQL: one process as
   ``soundalike index`` runs it (1 decoder + the encoder), against a 2-worker local Ray
   cluster (``--cluster local``). Ray's overhead is 1 - ray/single (target <= 15 %), on the
   run's steady state (after the workers loaded their models; the start-up is printed too).
3. An extrapolation from 1 and 2: hours to index 1M tracks (``--track-minutes`` each, default
   3.6 min: 60,000 hours) on N machines like this one, and the catalog write rate that needs.

Without ``--db`` a throwaway PostgreSQL server is started (app.benchmarks._postgres, the
Debian package). ``--tracks`` sizes the catalog: COPY of 1M rows takes minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import numpy as np

HELP = "studio scale: 1M-track PostgreSQL catalog sync + query p95, Ray indexing overhead"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", help="a PostgreSQL URL to use (default: a throwaway local server)")
    parser.add_argument("--tracks", type=int, default=1_000_000, help="simulated catalog size (default 1M)")
    parser.add_argument("--new", type=int, default=1000, help="tracks written before each of two incremental syncs")
    parser.add_argument("--queries", type=int, default=300, help="searches timed on the synced cache")
    parser.add_argument("--folder", type=Path, help="audio for the indexing part (default: data/real if present)")
    parser.add_argument("--max-files", type=int, default=16, help="files indexed per run (default 16)")
    parser.add_argument("--skip-index", action="store_true", help="only the catalog part")
    parser.add_argument("--track-minutes", type=float, default=3.6, help="mean track length for the extrapolation")


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def bulk_load(url: str, n: int, model_id: str, seed: int = 0) -> None:
    """``n`` synthetic tracks (2 windows each) by COPY, stamped 1..n as the triggers would."""
    import psycopg

    from app.benchmarks._catalog import synthetic_tracks
    from app.core.catalog import Catalog

    Catalog.open(url).close()  # the schema
    tracks = synthetic_tracks(n, seed)
    bpms = np.random.default_rng(seed + 2).uniform(70, 170, n).round(1)
    now = time.time()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE tracks DISABLE TRIGGER USER")
        cur.execute("ALTER TABLE embeddings DISABLE TRIGGER USER")
        columns = "id, path, fingerprint, size, mtime_ns, duration_s, title, album, bpm, status, model_id, updated_at, rev"
        with cur.copy(f"COPY tracks ({columns}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int8", "bytea", "text", "int8", "int8", "float8", "text", "text",
                            "float8", "text", "text", "float8", "int8"])  # fmt: skip
            for i in range(n):
                copy.write_row((i + 1, f"/bench/{i:07d}.flac".encode(), f"bench-{i}", 1000 + i, i,
                                5.94, f"Track {i}", f"Album {i // 12}", float(bpms[i]), "ok",
                                model_id, now, i + 1))  # fmt: skip
        with cur.copy("COPY embeddings (track_id, model_id, n_windows, padded, track, windows) "
                      "FROM STDIN (FORMAT BINARY)") as copy:  # fmt: skip
            copy.set_types(["int8", "text", "int4", "int4", "bytea", "bytea"])
            for i in range(n):
                vector = tracks[i].tobytes()
                copy.write_row((i + 1, model_id, 2, 0, vector, vector + vector))
        cur.execute("ALTER TABLE tracks ENABLE TRIGGER USER")
        cur.execute("ALTER TABLE embeddings ENABLE TRIGGER USER")
        cur.execute("UPDATE meta SET value = %s WHERE key = 'change_counter'", (str(n),))
        cur.execute("SELECT setval(pg_get_serial_sequence('tracks', 'id'), %s)", (n,))
        cur.execute("INSERT INTO meta(key, value) VALUES('library_model', %s)", (model_id,))
    # What autovacuum does to a bulk-loaded table within a minute (PostgreSQL >= 13 vacuums
    # after inserts): statistics, and the visibility map that lets a sync count the
    # searchable rows from the indexes alone (300k tracks: 0.06 s; 0.3-0.9 s without it).
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _memory_mb() -> tuple[float, float]:
    """(resident, peak resident) MiB of this process (Linux /proc)."""
    fields = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value
    return int(fields["VmRSS"].split()[0]) / 1024, int(fields["VmHWM"].split()[0]) / 1024


class _Timer:
    """Wall and CPU seconds of one step, kept under ``name`` in ``figures``."""

    def __init__(self, figures: dict[str, float], name: str) -> None:
        self.figures, self.name = figures, name

    def __enter__(self) -> None:
        self.wall, self.cpu = time.perf_counter(), time.process_time()

    def __exit__(self, *exc: object) -> None:
        self.figures[f"{self.name}_s"] = time.perf_counter() - self.wall
        self.figures[f"{self.name}_cpu_s"] = time.process_time() - self.cpu


def client_run(url: str, model_id: str, cache_dir: str, new: int, queries: int, local_db: str, out) -> None:  # noqa: ANN001
    """A fresh client process, syncing as the app's Library does (one VectorCache kept across
    syncs): first sync and engine, a sync with nothing new, twice: an indexer writes ``new``
    tracks, an incremental sync and the engine rebuilt on it; a restart (a new VectorCache reads the
    file, then syncs), timed searches, each also on the same tracks in the local SQLite file
    ``local_db`` (the desktop default), interleaved. Sends a dict of figures through ``out``."""
    from app.benchmarks._catalog import synthetic_tracks
    from app.benchmarks._local_twin import interleaved_latency
    from app.core.catalog import Catalog, TrackRecord
    from app.core.query import query_from_windows
    from app.core.search import SearchEngine
    from app.core.types import SearchWeights
    from app.core.vector_cache import VectorCache, cache_path

    figures: dict[str, float] = {}
    os.environ["SOUNDALIKE_DATA_DIR"] = cache_dir  # the client's search replica (catalog.cache_base) goes there
    client = Catalog.open(url, create=False)
    path = cache_path(Path(cache_dir) / "client", model_id)
    cache = VectorCache(path, model_id)
    figures["rss_before_mb"] = _memory_mb()[0]
    with _Timer(figures, "first_sync"):
        table = cache.sync(client)
    figures["rss_mb"], figures["peak_mb"] = _memory_mb()
    figures["cache_mb"] = path.stat().st_size / 2**20
    figures["replica_mb"] = client.replica(model_id).path.stat().st_size / 2**20
    figures["rows"] = len(table)
    with _Timer(figures, "engine_build"):
        engine = SearchEngine(table, *client.search_sources(model_id), index_cache=f"{path}.ivf")
    with _Timer(figures, "nothing_new_sync"):
        cache.sync(client)
    with Catalog.open(url) as indexer:
        for sync in (1, 2):  # into the rows the first sync left to spare (app.core.table_merge)
            vectors = synthetic_tracks(new, seed=6 + sync)
            t0 = time.perf_counter()
            for start in range(0, new, 32):  # the indexer's batches
                indexer.write_batch([
                    TrackRecord(f"/bench/new-{sync}-{i:06d}.flac", 1, i, 5.94, {}, model_id, track=vectors[i],
                                windows=np.stack([vectors[i], vectors[i]]))
                    for i in range(start, min(new, start + 32))
                ])  # fmt: skip
            figures["write_tracks_per_s"] = new / (time.perf_counter() - t0)
            with _Timer(figures, f"incremental_sync_{sync}"):
                table = cache.sync(client)
            with _Timer(figures, f"engine_rebuild_{sync}"):  # as Library.reload: the index extended
                engine = SearchEngine(table, *client.search_sources(model_id), index_cache=f"{path}.ivf",
                                      previous=engine if cache.grown_from else None)  # fmt: skip
    figures["rows_after"] = len(table)
    figures["rss_after_mb"] = _memory_mb()[0]
    with _Timer(figures, "restart_sync"):
        VectorCache(path, model_id).sync(client)
    local = Catalog.open(local_db, create=False)
    with _Timer(figures, "local_sync"):  # the desktop's first load: its cache file beside the catalog
        local_table = VectorCache(cache_path(local_db, model_id), model_id).sync(local)
    with _Timer(figures, "local_engine_build"):  # the same vectors: the studio client's IVF file serves
        local_engine = SearchEngine(local_table, *local.search_sources(model_id), index_cache=f"{path}.ivf")
    rng = np.random.default_rng(1)
    prepared = []
    for _ in range(queries):
        row = int(rng.integers(0, len(local_table)))
        query = np.stack([table.vectors[row], table.vectors[row]]).astype(np.float32)
        query += 0.05 * rng.standard_normal(query.shape).astype(np.float32)
        prepared.append(query_from_windows(query))
    engine.search(prepared[0], SearchWeights(), 10), local_engine.search(prepared[0], SearchWeights(), 10)  # warm
    server_reads = []  # what the queries still ask the server (ids the search replica lacked)
    for name in ("window_vectors", "get_tracks"):
        read = getattr(client, name)
        setattr(client, name, lambda *a, read=read, **kw: server_reads.append(1) or read(*a, **kw))
    times = interleaved_latency({"query": engine, "local_query": local_engine}, prepared)
    figures["server_reads"] = len(server_reads)
    for name, seconds in times.items():
        figures[f"{name}_p50_ms"] = float(np.percentile(seconds, 50) * 1000)
        figures[f"{name}_p95_ms"] = float(np.percentile(seconds, 95) * 1000)
    # Query for query (the same load): a p95 of a few hundred shared-machine timings moves by 10 %.
    figures["paired_ratio"] = float(np.median(np.divide(times["query"], times["local_query"])))
    client.close(), local.close()
    out.send(figures)


def _took(figures: dict[str, float], name: str) -> str:
    return f"{figures[f'{name}_s']:.2f} s ({figures[f'{name}_cpu_s']:.2f} CPU-s)"


def _catalog_part(url: str, args: argparse.Namespace, model_id: str) -> dict[str, float]:
    from app.benchmarks._local_twin import bulk_load_sqlite
    from app.benchmarks._postgres import fresh_schema

    catalog_url = fresh_schema(url, "bench_catalog")
    t0 = time.perf_counter()
    bulk_load(catalog_url, args.tracks, model_id)
    print(f"   catalog: {args.tracks} simulated tracks loaded by COPY in {time.perf_counter() - t0:.0f} s ({_load()})")
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    with tempfile.TemporaryDirectory(prefix="soundalike-bench-client-") as cache_dir:
        local_db = str(Path(cache_dir) / "local" / "library.db")
        Path(local_db).parent.mkdir()
        with _cpu_timed("   the same tracks loaded into a local SQLite catalog (the desktop default)"):
            bulk_load_sqlite(local_db, args.tracks, model_id)
        child = context.Process(target=client_run,
                                args=(catalog_url, model_id, cache_dir, args.new, args.queries, local_db, send))  # fmt: skip
        child.start()
        figures = receive.recv()
        child.join()
    print(f"   first sync: {_took(figures, 'first_sync')} for {figures['rows']:.0f} tracks; client memory "
          f"{figures['rss_mb']:.0f} MiB resident ({figures['rss_before_mb']:.0f} before), peak "
          f"{figures['peak_mb']:.0f} MiB; cache file {figures['cache_mb']:.0f} MiB, search replica "
          f"(windows and details, on disk) {figures['replica_mb']:.0f} MiB ({_load()})")
    print(f"   sync with nothing new: {_took(figures, 'nothing_new_sync')}")
    print(f"   indexer wrote {args.new} tracks at {figures['write_tracks_per_s']:.0f} tracks/s (batches of 32)")
    print(f"   incremental sync of {args.new} new tracks: {_took(figures, 'incremental_sync_1')} the first, "
          f"{_took(figures, 'incremental_sync_2')} the next "
          f"({figures['rows_after']:.0f} tracks now; each appends its tracks to the cache file; client "
          f"{figures['rss_after_mb']:.0f} MiB resident after)")
    print(f"   restart (a new client reads the cache file, then syncs): {_took(figures, 'restart_sync')}")
    print(f"   search engine: first built in {_took(figures, 'engine_build')}, rebuilt after each incremental "
          f"sync in {_took(figures, 'engine_rebuild_1')} and {_took(figures, 'engine_rebuild_2')}; "
          f"{args.queries} queries: "
          f"p50 {figures['query_p50_ms']:.1f} ms, p95 {figures['query_p95_ms']:.1f} ms ({_load()}); "
          f"server reads during them: {figures['server_reads']:.0f}")
    print(f"   local SQLite catalog, same tracks: first load {_took(figures, 'local_sync')}, engine "
          f"{_took(figures, 'local_engine_build')}; the same {args.queries} queries, interleaved with the "
          f"studio client's: p50 {figures['local_query_p50_ms']:.1f} ms, p95 {figures['local_query_p95_ms']:.1f} ms "
          f"(studio/local p95: {figures['query_p95_ms'] / figures['local_query_p95_ms']:.2f}, median of the "
          f"per-query ratios: {figures['paired_ratio']:.2f})")
    return figures


@contextlib.contextmanager
def _cpu_timed(what: str):  # noqa: ANN202
    """Prints ``what`` with the wall and CPU seconds (this process) of the block."""
    wall, cpu = time.perf_counter(), time.process_time()
    yield
    print(f"{what}: {time.perf_counter() - wall:.0f} s ({time.process_time() - cpu:.0f} CPU-s, {_load()})")


def run(args: argparse.Namespace) -> int:
    from app.benchmarks._model import bench_model
    from model.model_id import model_id_of

    print(f"soundalike bench studio: {os.cpu_count()} cores, {_load()}")
    with contextlib.ExitStack() as stack:
        url = args.db
        if url is None:
            from app.benchmarks._postgres import postgres_server, server_url

            url = server_url(stack.enter_context(postgres_server()))
            print("   PostgreSQL: a throwaway local server (Unix socket)")
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="soundalike-bench-studio-")))
        model, model_note = bench_model(None, tmp)
        figures = _catalog_part(url, args, model_id_of(model))
        if args.skip_index:
            return 0
        from app.benchmarks._studio_index import index_part

        rates = index_part(url, args, model, model_note, tmp)
        _extrapolate(rates, figures, args)
    return 0


def _extrapolate(rates: dict[str, float], figures: dict[str, float], args: argparse.Namespace) -> None:
    """Hours to index 1M tracks on N machines like this one, from the measured rates.

    A machine's rate is the Ray workers' x realtime per CPU-second times its cores: what it
    gives when nothing else runs on it (the wall-clock rate of a shared machine is printed
    above, and gives the pessimistic column)."""
    audio_h = 1_000_000 * args.track_minutes / 60
    cores = os.cpu_count() or 1
    per_machine = rates["ray_per_cpu"] * cores
    tracks_per_s = per_machine / (args.track_minutes * 60)
    print(f"   extrapolation: 1M tracks x {args.track_minutes} min = {audio_h:,.0f} h of audio; one "
          f"{cores}-core machine on Ray: {per_machine:.0f}x realtime idle ({rates['ray']:.0f}x measured "
          f"while shared) = {tracks_per_s:.2f} tracks/s")
    for machines in (1, 4, 16, 64, 256):
        print(f"     {machines:4d} machines: {audio_h / (per_machine * machines):8.1f} h idle, "
              f"{audio_h / (rates['ray'] * machines):8.1f} h as loaded as this one; catalog writes "
              f"{tracks_per_s * machines:6.1f} tracks/s (one writer measured {figures['write_tracks_per_s']:.0f}/s)")
    print("   assumes linear scaling: each worker decodes and embeds alone and the catalog takes "
          "small batched writes (many writers commit in parallel); a GPU worker is many times faster")
