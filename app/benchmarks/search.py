"""``soundalike bench search``: search latency, memory and approximate recall on synthetic vectors.

For each library size it builds the search engine and measures:
- build time and memory (the engine's arrays and index; the process RSS, current and peak);
- a NEW query (first search of a fresh query: track-level scan or IVF probe, window fetch
  and segment scoring of the candidates) and a SLIDER re-rank (same query, new weights),
  p50/p95 over random weights, k=10;
- above ``--flat-limit`` (approximate IVF path): recall@10 of the final results against the
  same pipeline forced to scan every track exactly.
With ``--model`` (or an installed default model) it also times a new 30-s query clip
decoded from a file, embedded on the CPU and searched, at the largest exact size.

Synthetic vectors mimic a trained model's: every 64-d block is one of 32 cluster centres
plus noise, chosen independently per dimension (disentangled), block-normalised. Window
vectors (``--windows`` per track) are the track vector plus per-window noise. Up to
``--catalog-max`` tracks they are written to a real SQLite catalog and fetched from it, as
the app does; above it they are produced on demand from a fixed noise pool (the app reads
them from SQLite; the figures then exclude that I/O, which the catalog sizes measure).
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from app.benchmarks._catalog import PoolWindows, synthetic_tracks

HELP = "search latency (new query, slider re-rank), memory and recall at 10k/100k/1M tracks"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sizes", default="10000,100000,1000000", help="library sizes (tracks)")
    parser.add_argument("--windows", type=int, default=50, help="windows per track (default 50)")
    parser.add_argument("--queries", type=int, default=40, help="new queries per size")
    parser.add_argument("--reranks", type=int, default=200, help="slider re-ranks per size")
    parser.add_argument("--flat-limit", type=int, default=200_000, help="exact search up to N")
    parser.add_argument("--nprobe", type=int, default=None, help="IVF lists probed (default: a quarter)")
    parser.add_argument("--candidates", type=int, default=200, help="segment-scored candidates")
    parser.add_argument("--catalog-max", type=int, default=10_000,
                        help="sizes up to this go through a real SQLite catalog")
    parser.add_argument("--model", type=Path, help="model file for the end-to-end 30-s query")
    parser.add_argument("--seed", type=int, default=0)


def _rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _catalog_engine(tracks: np.ndarray, windows: PoolWindows, folder: Path, args):  # noqa: ANN001, ANN202
    from app.core.catalog import Catalog, TrackRecord
    from app.core.search import SearchEngine

    catalog = Catalog.open(folder / f"bench-{len(tracks)}.db")
    batch = []
    for i in range(len(tracks)):
        w = windows([i])[i]
        batch.append(TrackRecord(f"/bench/{i:07d}.wav", 1, 1, 180.0, {}, "bench", track=tracks[i], windows=w))
        if len(batch) == 2000:
            catalog.write_batch(batch)
            batch = []
    catalog.write_batch(batch)
    table = catalog.load_track_vectors("bench")
    engine = SearchEngine(
        table, lambda ids: catalog.window_vectors(ids, "bench"), catalog.get_tracks,
        flat_limit=args.flat_limit, candidates=args.candidates, nprobe=args.nprobe,
    )
    return engine, catalog


def _memory_engine(tracks: np.ndarray, windows: PoolWindows, args):  # noqa: ANN001, ANN202
    from app.core.catalog import TrackTable
    from app.core.search import SearchEngine

    n = len(tracks)
    table = TrackTable(
        np.arange(n, dtype=np.int64), tracks, np.full(n, args.windows, np.int32),
        np.full(n, 180.0, np.float32), np.full(n, np.nan, np.float32), [""] * n, [""] * n,
    )
    return SearchEngine(table, windows, lambda ids: {}, flat_limit=args.flat_limit,
                        candidates=args.candidates, nprobe=args.nprobe)


def _pct(values: list[float]) -> str:
    ms = np.asarray(values) * 1000
    return f"p50 {np.percentile(ms, 50):7.1f} ms  p95 {np.percentile(ms, 95):7.1f} ms"


def _queries(engine, windows: PoolWindows, count: int, rng):  # noqa: ANN001, ANN202
    from app.core.query import query_from_windows

    out = []
    for _ in range(count):
        i = int(rng.integers(0, len(engine)))
        w = windows([int(engine.table.ids[i])])[int(engine.table.ids[i])].astype(np.float32)
        start = int(rng.integers(0, max(1, len(w) - 10)))
        out.append(query_from_windows(w[start : start + 10]))  # a 30-s region
    return out


def _bench_size(n: int, args, folder: Path):  # noqa: ANN001, ANN201
    rng = np.random.default_rng(args.seed)
    t0 = time.perf_counter()
    tracks = synthetic_tracks(n, args.seed)
    windows = PoolWindows(tracks, args.windows, args.seed)
    gen_s = time.perf_counter() - t0
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    catalog = None
    if n <= args.catalog_max:
        engine, catalog = _catalog_engine(tracks, windows, folder, args)
        where = "SQLite catalog"
    else:
        engine = _memory_engine(tracks, windows, args)
        where = "windows made on demand"
    build_s = time.perf_counter() - t0
    mode = "exact" if engine.index.exact else f"IVF-SQ8 {engine.index.describe()}"
    engine_mb = engine.index.memory_bytes / 2**20  # (IVF mode shares the table's float16 array)
    print(f"\n== {n:,} tracks x {args.windows} windows ({where}); {mode}")
    print(f"   generate {gen_s:.1f} s, build {build_s:.1f} s; engine arrays+index {engine_mb:.0f} MB; "
          f"RSS {_rss_mb():.0f} MB (before build {rss0:.0f} MB, peak {_peak_mb():.0f} MB)")
    queries = _queries(engine, windows, args.queries, rng)
    new_t, rerank_t, new_cpu, rerank_cpu = [], [], [], []
    engine.search(queries[0], rng.uniform(0.05, 1, 4), k=10)  # warm-up
    for q in queries[1:]:
        t0, c0 = time.perf_counter(), time.process_time()
        engine.search(q, rng.uniform(0.05, 1, 4), k=10)
        new_t.append(time.perf_counter() - t0)
        new_cpu.append(time.process_time() - c0)
    q = queries[-1]
    w = rng.uniform(0.05, 1, 4)
    for _ in range(args.reranks):
        w = np.clip(w + rng.normal(0, 0.05, 4), 0.01, 1)  # a slider being dragged
        t0, c0 = time.perf_counter(), time.process_time()
        engine.search(q, w, k=10)
        rerank_t.append(time.perf_counter() - t0)
        rerank_cpu.append(time.process_time() - c0)
    # CPU time (all threads) is printed too: on a shared, loaded machine wall time mostly
    # measures the other processes; CPU time is what the search itself costs.
    print(f"   new query      wall {_pct(new_t)} | cpu {_pct(new_cpu)}")
    print(f"   slider re-rank wall {_pct(rerank_t)} | cpu {_pct(rerank_cpu)}")
    if not engine.index.exact:
        hits = total = track_hits = 0
        fresh = _queries(engine, windows, min(args.queries, 30), rng)
        for q in fresh:
            # The harder case: the pool was gathered for other weights (a slider moved since).
            engine.search(q, rng.uniform(0.05, 1, 4), k=10)
            w = rng.uniform(0.05, 1, 4)
            approx = {r.track.track_id for r in engine.search(q, w, k=10)}
            rows, cos = engine._state(q).pool  # track level: the pool, exactly re-scored
            approx_rows = set(rows[np.argsort(-(cos @ w))[:10]].tolist())
            exact_rows = set(np.argsort(-(engine.index.cosines(q.vector) @ w))[:10].tolist())
            track_hits += len(approx_rows & exact_rows)
            engine.index.exact = True  # same pipeline, every track scanned (chunked float16)
            try:
                exact = {r.track.track_id for r in engine.search(type(q)(q.vector, q.spans), w, k=10)}
            finally:
                engine.index.exact = False
            hits += len(approx & exact)
            total += len(exact)
        print(f"   recall@10 vs exact scan: track level {track_hits / total:.3f}, "
              f"final results {hits / total:.3f} ({len(fresh)} queries)")
    return engine, catalog


def run(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    print(f"soundalike bench search: cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, "
          f"candidates {args.candidates}, flat limit {args.flat_limit:,}")
    with tempfile.TemporaryDirectory(prefix="soundalike-bench-") as tmp:
        exact_engine, catalogs = None, []
        for n in sizes:
            engine, catalog = _bench_size(n, args, Path(tmp))
            catalogs.append(catalog)
            if engine.index.exact:
                exact_engine = engine
            del engine
            gc.collect()
        if exact_engine is not None:
            _query_end_to_end(args, exact_engine, Path(tmp))
        for catalog in filter(None, catalogs):
            catalog.close()
    return 0


def _query_end_to_end(args, engine, folder: Path) -> None:  # noqa: ANN001
    """A new 30-s clip from a file: decode + embed (CPU) + search, against ``engine``."""
    import soundfile as sf

    from app.benchmarks._model import bench_model
    from app.core.library import Library
    from model.encoder import Encoder

    path, note = bench_model(args.model, folder)
    encoder = Encoder.load(path, device="cpu")
    rng = np.random.default_rng(1)
    sr = 44100
    t = np.arange(30 * sr) / sr
    clip = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
    clip_path = folder / "query.mp3"
    sf.write(str(clip_path), np.stack([clip, clip], 1), sr, format="MP3", subtype="MPEG_LAYER_III")

    class _Fixed(Library):
        @property
        def engine(self):  # noqa: ANN202 - the benchmark's synthetic engine
            return engine

    library = _Fixed(None, encoder)  # type: ignore[arg-type]
    from model.audio import load_audio

    times, decode, embed, cpu = [], [], [], []
    for _ in range(5):
        t0, c0 = time.perf_counter(), time.process_time()
        query = library.prepare_query(clip_path)
        t1 = time.perf_counter()
        engine.search(query, (1, 1, 1, 1), k=10)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        t2 = time.perf_counter()
        samples = load_audio(clip_path)
        decode.append(time.perf_counter() - t2)
        embed.append(t1 - t0 - decode[-1])
    print(f"\n== new 30-s query (MP3 44.1 kHz stereo) decoded + embedded on CPU + searched in "
          f"{len(engine):,} tracks: wall {_pct(times)} | cpu (all threads) {_pct(cpu)}  [model: {note}]")
    print(f"   of which decode {np.median(decode) * 1000:.0f} ms, embed (10 windows) "
          f"{np.median(embed) * 1000:.0f} ms; {samples.size / 22050:.0f} s clip")
