"""``soundalike index DIR... [--db PATH|URL] [--cluster local|ray://HOST:PORT]``: add or update
a library (progress on stderr).

``--cluster`` spreads the decoding and embedding over the workers of a Ray cluster, which
write straight into the PostgreSQL catalog named by ``--db`` (app.core.cluster_index);
every machine must see the music folders and the model file at the same paths.

Incremental: only new or changed content is decoded and embedded (moved, renamed or copied
files keep their vectors); files gone from disk are reported missing and leave the results; an interrupted run (Ctrl+C, kill -9) is completed by running it again.
Files that cannot be decoded are listed with their reason and skipped (exit status 0);
exit status 1 only when nothing could be scanned at all.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from app.cli import CliError
from app.commands._library import add_library_options, load_encoder, model_path, open_catalog
from app.core.types import display_path

HELP = "add or update a library: scan folders, embed new or changed audio files"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", metavar="DIR", help="music folders (recursive)")
    add_library_options(parser)
    parser.add_argument(
        "--workers", type=int, default=None, metavar="N",
        help="decoding processes (default: one per CPU core with the ONNX encoder, else cores - 1; "
        "0 decodes inline); "
        "with --cluster: Ray workers (default: one per CPU of the cluster)",
    )
    parser.add_argument(
        "--cluster", metavar="local|ray://HOST:PORT",
        help="embed on a Ray cluster (needs --db postgresql://...); 'local' starts one on this machine",
    )
    parser.add_argument(
        "--batch-windows", type=int, default=64, metavar="N",
        help="windows per encoder batch and catalog commit (a crash loses at most one batch)",
    )


def _format_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    minutes, secs = divmod(int(seconds + 0.5), 60)
    return f", {minutes} min {secs:02d} s left" if minutes else f", {secs} s left"


def run(args: argparse.Namespace) -> int:
    from app.core.catalog_io import is_database_url
    from app.core.indexer import IndexSummary, index_folders

    # Decoding workers and the network share the cores. The network runs on one thread, or
    # on the cores that ``--workers`` leaves; the indexer starts one worker per core on a CPU
    # (they run the front end too, for ONNX and torch alike) and one fewer for torch on a GPU
    # (app.core.indexer.default_workers). Measured with torch on 2 busy cores, when its front
    # end ran in this process: 1 worker + 1 torch thread indexed fastest, 170x realtime, vs
    # 134x with 1 worker + 2 threads and 154x inline.
    cores = os.cpu_count() or 2
    workers = args.workers
    threads = max(1, cores - (max(1, cores - 1) if workers is None else workers))
    if args.cluster and not is_database_url(args.db or ""):
        raise CliError("--cluster writes to a shared catalog: pass --db postgresql://USER@HOST/DB")
    catalog = open_catalog(args, create=True)
    summary = IndexSummary()
    try:
        if args.cluster:
            steps = _cluster_run(args, catalog, summary)
        else:
            encoder = load_encoder(args, threads=threads, catalog=catalog,
                                   reembed_ok=True, lazy=True, announce=True, onnx=True, bulk=True)
            steps = index_folders(catalog, args.folders, encoder, workers=workers, summary=summary,
                                  batch_windows=max(1, args.batch_windows))
    except BaseException:
        catalog.close()
        raise
    interactive = sys.stderr.isatty()
    last_print = 0.0
    try:
        for progress in steps:
            now = time.monotonic()
            line = progress.message + _format_eta(progress.eta_s)
            if interactive:
                print(f"\r\033[K{line}", end="", file=sys.stderr, flush=True)
            elif now - last_print >= 2.0 or progress.done == progress.total:
                print(line, file=sys.stderr, flush=True)
                last_print = now
        if interactive:
            print(file=sys.stderr)
        if not args.cluster and not is_database_url(args.db or ""):
            _refresh_vector_cache(catalog, encoder.model_id)
    finally:
        catalog.close()
    for path, reason in summary.problems:
        print(f"skipped {display_path(path)}: {reason}", file=sys.stderr)
    for path, reason in summary.failed:
        line = reason if path in reason else f"{path}: {reason}"
        print(f"failed: {display_path(line)}", file=sys.stderr)
    print(
        f"{summary.scanned} audio files: {summary.added} added, {summary.updated} updated, "
        f"{summary.reembedded} re-embedded, {summary.unchanged} unchanged, "
        f"{summary.moved} moved, {summary.copied} copies, {summary.missing} missing, "
        f"{summary.returned} back, {summary.removed} removed, {len(summary.failed)} failed "
        f"({summary.audio_seconds / 60:.1f} min of audio embedded) -> {catalog.path}",
        file=sys.stderr,
    )
    if summary.lost_workers:
        print(f"{summary.lost_workers} cluster workers died; their files were indexed by others",
              file=sys.stderr)
    if summary.scanned == 0 and summary.problems and not summary.removed:
        return 1
    return 0


def _refresh_vector_cache(catalog, model_id: str) -> None:  # noqa: ANN001 - a Catalog
    """Bring the search's vector cache (app.core.vector_cache) up to date while the catalog is
    open, so that the next ``soundalike search`` reads one file instead of every vector row:
    on a 100k-track catalog that full read was 0.5 s of a 1.6-s search. A shared catalog's
    clients each keep their own cache, so this is for the local one only."""
    from app.core.vector_cache import cache_path, load_table

    load_table(catalog, model_id, cache_path(catalog.cache_base, model_id))


def _cluster_run(args: argparse.Namespace, catalog, summary):  # noqa: ANN001, ANN202
    """The run's progress on a Ray cluster (app.core.cluster_index); errors as CliError."""
    from app.core.cluster_index import ClusterError, ClusterIndexer

    try:
        indexer = ClusterIndexer(catalog, model_path(args, catalog, reembed_ok=True), cluster=args.cluster,
                                 workers=args.workers, device=args.device)
    except ClusterError as exc:
        raise CliError(str(exc)) from None

    def steps():  # noqa: ANN202
        try:
            yield from indexer.run(args.folders, summary=summary)
        except ClusterError as exc:
            raise CliError(str(exc)) from None

    return steps()
