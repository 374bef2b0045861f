"""The indexing half of ``soundalike bench studio``: one process against a local Ray cluster,
the same files, both writing to PostgreSQL (see app/benchmarks/studio.py)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def _single(url: str, folder: Path, model: Path, workers: int) -> tuple[float, float]:
    """(x realtime, x realtime per CPU-second) of one indexing process with 1 torch thread and
    ``workers`` decoding processes (1: ``soundalike index`` on 2 cores). Per CPU-second is
    only right with ``workers=0`` (decoding inline, as a Ray worker does): the decoders are
    the forkserver's children, whose CPU time this process never sees."""
    from app.core.catalog import Catalog
    from app.core.indexer import IndexSummary, index_folders
    from model.encoder import Encoder

    encoder = Encoder.load(model, device="cpu", threads=1)
    summary = IndexSummary()
    with Catalog.open(url) as catalog:
        t0, cpu = time.perf_counter(), time.process_time()
        for _ in index_folders(catalog, [folder], encoder, workers=workers, summary=summary):
            pass
        wall, cpu = time.perf_counter() - t0, time.process_time() - cpu
    audio = summary.audio_seconds
    how = "decoding inline" if workers == 0 else f"{workers} decoding process"
    per_cpu = f", {audio / cpu:6.1f}x per CPU-second" if workers == 0 else ""
    print(f"   one process ({how}, 1 torch thread): {audio / wall:6.1f}x realtime{per_cpu} "
          f"({audio:.0f} s of audio in {wall:.1f} s; load {os.getloadavg()[0]:.1f})")
    return audio / wall, audio / cpu


def _ray(url: str, folder: Path, model: Path) -> tuple[float, float, float]:
    """(steady x realtime, with start-up, per worker CPU-second) of a 2-worker local Ray cluster."""
    from app.core.catalog import Catalog
    from app.core.cluster_index import ClusterIndexer, connect
    from app.core.indexer import IndexSummary

    # Ray starts its workers 15 steps nicer than the driver: on a shared machine they would
    # lose the CPU to everything else and the comparison would measure the scheduler.
    os.environ.setdefault("RAY_worker_niceness", "0")
    t0 = time.perf_counter()
    ray, _ = connect("local", 2)
    ray_up = time.perf_counter() - t0
    summary = IndexSummary()
    try:
        with Catalog.open(url) as catalog:
            indexer = ClusterIndexer(catalog, model, cluster="local", workers=2, chunk_files=1, device="cpu")
            t0 = time.perf_counter()
            ready = t0
            for progress in indexer.run([folder], summary=summary):
                if progress.message.endswith("workers ready"):
                    ready = time.perf_counter()
            end = time.perf_counter()
    finally:
        ray.shutdown()
    steady = summary.audio_seconds / (end - ready)
    total = summary.audio_seconds / (end - t0)
    per_cpu = summary.audio_seconds / max(indexer.worker_cpu_s, 1e-9)
    print(f"   Ray, 2 local workers: {steady:6.1f}x realtime after the workers loaded their models "
          f"({end - ready:.1f} s), {per_cpu:6.1f}x per worker CPU-second; {total:.1f}x counting their "
          f"start-up ({ready - t0:.1f} s; Ray's own start {ray_up:.1f} s apart); "
          f"{summary.lost_workers} lost; load {os.getloadavg()[0]:.1f}")
    return steady, total, per_cpu


def index_part(url: str, args: argparse.Namespace, model: Path, model_note: str, tmp: Path) -> dict[str, float]:
    from app.benchmarks._postgres import fresh_schema
    from app.benchmarks.index import bench_files

    folder, note = bench_files(args, tmp)
    print(f"   indexing: {note}; model {model_note}")
    # The wall-clock pair first (the load of a shared machine drifts: back to back), then the
    # per CPU-second pair: a Ray worker decodes inline, so the single process does too.
    single = _single(fresh_schema(url, "bench_single"), folder, model, workers=1)[0]
    steady, total, ray_cpu = _ray(fresh_schema(url, "bench_ray"), folder, model)
    single_cpu = _single(fresh_schema(url, "bench_single"), folder, model, workers=0)[1]
    print(f"   Ray overhead: {1 - steady / single:+.0%} wall against `soundalike index` (target <= 15 %), "
          f"{1 - ray_cpu / single_cpu:+.0%} per CPU-second against one process decoding inline (what "
          f"the load cannot skew), {1 - total / single:+.0%} wall with the workers' start-up")
    return {"single": single, "ray": steady, "ray_per_cpu": ray_cpu}
