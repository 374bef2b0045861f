"""Content fingerprints: which catalogued track a file on disk is, wherever it now lives.

Public API::

    fingerprint(path) -> str        # "<size hex>-<32 hex digits>"; raises OSError

Why not a hash of the whole file: that reads every byte of the library on each change of
folder layout, as slow as decoding it. Size plus BLAKE2b over a few blocks (start, middle,
end; ``BLOCK_BYTES`` each) reads at most ``3 * BLOCK_BYTES`` per file, and two different
recordings of the same size agreeing on all three blocks does not happen in practice
(audio data is never all-equal at the start, middle and end of two different takes). Files
up to ``3 * BLOCK_BYTES`` are hashed whole, so small files are fingerprinted exactly.
A retag that rewrites only a header changes the first block, hence the fingerprint: the
file is then re-indexed, which also refreshes its tags.
"""

from __future__ import annotations

import hashlib
import os
import stat

BLOCK_BYTES = 64 * 1024  # bytes read at each of the three sample points


def fingerprint(path: str | bytes | os.PathLike[str]) -> str:
    """The file's content fingerprint (reads at most ``3 * BLOCK_BYTES``)."""
    digest = hashlib.blake2b(digest_size=16)
    # O_NONBLOCK: a FIFO swapped in for a file since the scan must not block the run.
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{os.fsdecode(path)}: not a regular file")
        size = info.st_size
        if size <= 3 * BLOCK_BYTES:
            digest.update(handle.read())
        else:
            for start in (0, (size - BLOCK_BYTES) // 2, size - BLOCK_BYTES):
                handle.seek(start)
                digest.update(handle.read(BLOCK_BYTES))
    return f"{size:x}-{digest.hexdigest()}"


def fingerprint_or_none(path: str | bytes | os.PathLike[str]) -> str | None:
    """``fingerprint(path)``, or None when the file cannot be read now (decoding says why)."""
    try:
        return fingerprint(path)
    except OSError:
        return None
