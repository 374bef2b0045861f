"""``soundalike embed FILE... [--from-list LIST] -o OUT.npz [--model M] [--device D]``.

Writes the DESIGN.md contract: an ``.npz`` with ``paths`` (str, as given), ``embeddings``
(float32 ``(N, 256)`` track vectors, each 64-d block L2-normalised) and ``dimensions`` (the
four block names in order). A file that cannot be decoded is reported on stderr in one line
and skipped; the exit status is non-zero only when nothing could be embedded (1) or the
arguments are wrong (2).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from app.cli import CliError
from app.commands import _library

HELP = "embed audio files into 256-d track vectors (.npz), for scripts and evaluation"
PROGRESS_EVERY_S = 2.0  # seconds between progress lines when stderr is not a terminal


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", metavar="FILE", help="audio files to embed")
    parser.add_argument(
        "--from-list", metavar="LIST", type=Path,
        help="text file with one audio path per line (blank lines and # comments ignored)",
    )  # fmt: skip
    parser.add_argument("-o", "--output", required=True, type=Path, metavar="OUT.npz")
    parser.add_argument(
        "--model", type=Path, metavar="PATH",
        help="model file (default: $SOUNDALIKE_MODEL, else the shipped resources/models/default.pt)",
    )  # fmt: skip
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")


def run(args: argparse.Namespace) -> int:
    paths = list(args.files) + (_library.read_list(args.from_list) if args.from_list else [])
    if not paths:
        raise CliError("no input files (give FILE arguments or --from-list LIST)")
    if args.output.suffix != ".npz":
        raise CliError(f"output must be an .npz file: {args.output}")
    import numpy as np

    from model.atomic import atomic_path
    from model.audio import WINDOW_SECONDS
    from model.dimensions import DIMENSIONS
    from model.embedding import TrackEmbedding, available_cores, pipeline_threads
    from model.onnx_encoder import bulk_pays

    # On a CPU: the ONNX export (twice torch's speed), its threads the decoders' complement.
    network_threads, _ = pipeline_threads(available_cores())
    # A few files: onnxruntime (OpenVINO's longer start doubled a 2-minute file's run).
    bulk = bulk_pays(len(paths), sum(os.path.getsize(path) for path in paths if os.path.isfile(path)))
    encoder = _library.load_encoder(args, threads=network_threads, announce=True, onnx=True, bulk=bulk)

    vectors: dict[str, np.ndarray] = {}
    failed = 0
    audio_seconds = 0.0
    started = last_report = time.monotonic()
    show_progress = len(paths) > 1
    for done, (path, result) in enumerate(encoder.embed_files(paths), start=1):
        if isinstance(result, TrackEmbedding):
            vectors[path] = result.track
            audio_seconds += len(result.windows) * WINDOW_SECONDS
        else:
            failed += 1
            print(f"skipped: {result}", file=sys.stderr, flush=True)
        now = time.monotonic()
        if show_progress and (now - last_report >= PROGRESS_EVERY_S or done == len(paths)):
            rate = audio_seconds / max(now - started, 1e-9)
            print(f"embedded {done}/{len(paths)} files ({rate:.0f}x realtime)",
                  file=sys.stderr, flush=True)  # fmt: skip
            last_report = now

    if not vectors:
        print(f"soundalike: nothing embedded ({failed} file(s) failed)", file=sys.stderr)
        return 1
    kept = [p for p in paths if p in vectors]  # input order, whatever order decoding finished
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(args.output) as tmp:
        np.savez(
            tmp,
            paths=np.array(kept, dtype=str),
            embeddings=np.stack([vectors[p] for p in kept]).astype(np.float32),
            dimensions=np.array(DIMENSIONS, dtype=str),
        )
    if failed:
        print(f"wrote {len(kept)} of {len(paths)} files to {args.output} ({failed} skipped)",
              file=sys.stderr)  # fmt: skip
    return 0
