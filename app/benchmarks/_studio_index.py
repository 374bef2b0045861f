"""The indexing half of ``soundalike bench studio``: one process against a local Ray cluster,
the same files, both writing to PostgreSQL (see app/benchmarks/studio.py)."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path


def _single(url: str, folder: Path, model: Path) -> float:
    """x realtime of ``soundalike index`` on 2 cores: 1 decoding process + 1 torch thread."""
    from app.core.catalog import Catalog
    from app.core.indexer import IndexSummary, index_folders
    from model.encoder import Encoder

    encoder = Encoder.load(model, device="cpu", threads=1)
    summary = IndexSummary()
    with Catalog.open(url) as catalog:
        t0 = time.perf_counter()
        for _ in index_folders(catalog, [folder], encoder, workers=1, summary=summary):
            pass
        wall = time.perf_counter() - t0
    print(f"   one process (1 decoder + 1 torch thread): {summary.audio_seconds / wall:6.1f}x realtime "
          f"({summary.audio_seconds:.0f} s of audio in {wall:.1f} s; load {os.getloadavg()[0]:.1f})")
    return summary.audio_seconds / wall


def _ray(url: str, folder: Path, model: Path) -> tuple[float, float]:
    """(steady x realtime, with start-up) of a 2-worker local Ray cluster."""
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
    print(f"   Ray, 2 local workers: {steady:6.1f}x realtime after the workers loaded their models "
          f"({end - ready:.1f} s); {total:.1f}x counting their start-up ({ready - t0:.1f} s) and "
          f"Ray's own start ({ray_up:.1f} s) apart; {summary.lost_workers} lost; load {os.getloadavg()[0]:.1f}")
    return steady, total


def index_part(url: str, args: argparse.Namespace, model: Path, model_note: str, tmp: Path) -> dict[str, float]:
    from app.benchmarks._postgres import fresh_schema
    from app.benchmarks.index import bench_files

    folder, note = bench_files(args, tmp)
    print(f"   indexing: {note}; model {model_note}")
    single = _single(fresh_schema(url, "bench_single"), folder, model)
    steady, total = _ray(fresh_schema(url, "bench_ray"), folder, model)
    print(f"   Ray overhead: {1 - steady / single:+.0%} steady (target <= 15 %), "
          f"{1 - total / single:+.0%} with the workers' start-up")
    return {"single": single, "ray": steady}
