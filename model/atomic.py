"""Atomic file writes: readers see the old file or the new one, never half of one.

Public API::

    with atomic_path(path) as tmp:      # write tmp however you like (torch.save, faiss, np.savez)
        ...                             # on success tmp replaces path; on error tmp is removed
    write_bytes_atomic(path, data); write_text_atomic(path, text)

The temporary file sits in the target's folder (a rename is atomic only within one file
system), is hidden (``.name``), and keeps the target's suffix (``np.savez`` appends
``.npz`` to a name without it). Quod Libet's ``util/atomic.py`` does the same.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path next to ``path`` that replaces it when the block ends without error."""
    path = Path(path)
    # Unique per process and thread: two writers of one file never share a temporary.
    tmp = path.with_name(f".{path.stem}.{os.getpid()}-{threading.get_ident()}.tmp{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """UTF-8; file names held as surrogate escapes (``os.fsdecode``) are written as their
    original bytes, so a playlist entry opens the file whatever its name's encoding."""
    write_bytes_atomic(path, text.encode("utf-8", "surrogateescape"))
