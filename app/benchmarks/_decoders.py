"""The indexer's decoders alone: what ``soundalike index`` would reach if embedding were free.

Run as ``python -m app.benchmarks._decoders DEVICE PATH...`` (a fresh process, as
``soundalike index`` is timed): the same worker processes and job as an index run on
``DEVICE`` (app.core.indexer's ``decoded_pieces``: decoding, down-mix, resampling, BPM and
loudness, tags, and on a CPU the log-mel front end), every piece received and dropped, no
model loaded, no catalog. ``soundalike bench index`` prints index's throughput over this
one: on a CPU it shows what the network and the rest of the pipeline cost; with a GPU
(``--device cuda``) the target is 0.9 or more, that is the GPU keeps up with the decoders.
Like ``soundalike index`` with many files, it takes the GPU where one is expected
(``gpu_expected``): with ``--device auto`` and fewer than ``BULK_MIN_FILES`` files, index
itself would stay on the CPU (``bulk_pays``), and the two would not compare.
"""

from __future__ import annotations

import os
import sys

from app.core.indexer import decoded_pieces, default_workers
from app.core.scanner import ScannedFile
from model.onnx_encoder import gpu_expected


def main(argv: list[str]) -> int:
    device, paths = argv[0], argv[1:]
    native = gpu_expected(device)
    files = [ScannedFile(path, (st := os.stat(path)).st_size, st.st_mtime_ns) for path in paths]
    pieces = sum(1 for piece in decoded_pieces(files, default_workers(native), native) if piece is not None)
    print(f"{pieces} pieces from {len(files)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
