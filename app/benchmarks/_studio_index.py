"""The indexing half of ``soundalike bench studio``: one process against a local Ray cluster,
the same files, both writing to PostgreSQL (see app/benchmarks/studio.py)."""

from __future__ import annotations

import argparse
import os
import resource
import time
from pathlib import Path


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (the decoding processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _single(url: str, folder: Path, model: Path) -> tuple[float, float]:
    """(x realtime, x realtime per CPU-second) of ``soundalike index`` on 2 cores: 1 decoding
    process + 1 torch thread."""
    from app.core.catalog import Catalog
    from app.core.indexer import IndexSummary, index_folders
    from model.encoder import Encoder

    encoder = Encoder.load(model, device="cpu", threads=1)
    summary = IndexSummary()
    with Catalog.open(url) as catalog:
        t0, cpu = time.perf_counter(), _cpu_s()
        for _ in index_folders(catalog, [folder], encoder, workers=1, summary=summary):
            pass
        wall, cpu = time.perf_counter() - t0, _cpu_s() - cpu
    audio = summary.audio_seconds
    print(f"   one process (1 decoder + 1 torch thread): {audio / wall:6.1f}x realtime, "
          f"{audio / cpu:6.1f}x per CPU-second ({audio:.0f} s of audio in {wall:.1f} s; load {os.getloadavg()[0]:.1f})")
    return audio / wall, audio / cpu


def _ray(url: str, folder: Path, model: Path) -> tuple[float, float, float]:
    """(steady x realtime, with start-up, per worker CPU-second) of a 2-worker local Ray cluster."""
    from app.core.catalog import Catalog
    from app.core.cluster_index import ClusterIndexer, connect
    from app.core.indexer import IndexSummary

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
    # One process before and after Ray: the load of a shared machine drifts; bracket the run.
    before = _single(fresh_schema(url, "bench_single"), folder, model)
    steady, total, ray_cpu = _ray(fresh_schema(url, "bench_ray"), folder, model)
    after = _single(fresh_schema(url, "bench_single"), folder, model)
    single, single_cpu = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
    print(f"   Ray overhead against the mean of both single runs: {1 - steady / single:+.0%} wall "
          f"(target <= 15 %), {1 - ray_cpu / single_cpu:+.0%} per CPU-second (what the load "
          f"cannot skew), {1 - total / single:+.0%} wall with the workers' start-up")
    return {"single": single, "ray": steady, "ray_per_cpu": ray_cpu}
