"""The vector cache's file: a snapshot of the table, then the changes synced after it.

Public API::

    frame_parts(head, table, removed) -> [buffer]   # one frame, to write part by part
    snapshot_parts(head, table) -> [buffer]          # a whole file: MAGIC + one snapshot frame
    read_frames(path) -> (frames, valid_end) | None  # every intact frame, in order

Why a journal: rewriting the whole file on every sync cost a 1M-track client 50-80 s per
incremental sync (512 MB of vectors, 1M paths as JSON, a CRC over all of it). A sync now
appends one frame holding only what changed; the file is rewritten whole (atomically) only
on a full read and when the appended frames outgrow a share of the snapshot
(app.core.vector_cache decides).

Crash safety: a frame is appended after the last intact one, so a client killed while
appending leaves the file's intact part untouched and a torn frame at its end. Each frame
carries its body's length and CRC-32, so a torn or garbled frame (and everything after it)
is never read: the cache is then the state before that sync, and the next sync reads the
changes again. The caller also chains frames by counter (``since`` of a frame must be the
``counter`` before it), so a frame that does not follow its predecessor is never applied.

Layout (little-endian): ``MAGIC``, then frames. A frame is a uint32 header length, a JSON
header (the caller's keys plus ``n``, ``m``, ``body`` length and ``crc32``), then the body:
removed ids int64[m], ids int64[n], vectors float16[n, 256], n_windows int32[n],
duration_s float32[n], bpm float32[n], and the paths, albums and fingerprints as JSON
(lone surrogates of undecodable file names round-trip through JSON's ``\\udcXX`` escapes).
The first frame is the snapshot (``m`` = 0).
"""

from __future__ import annotations

import json
import logging
import mmap
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from app.core.catalog_records import TrackTable
from model.dimensions import EMBEDDING_SIZE

log = logging.getLogger(__name__)

MAGIC = b"SLVCACHE2\n"
NUMERIC = (("ids", np.int64, ()), ("vectors", np.float16, (EMBEDDING_SIZE,)),
           ("n_windows", np.int32, ()), ("duration_s", np.float32, ()), ("bpm", np.float32, ()))
_LENGTH = struct.Struct("<I")
MAP_FILES = os.name == "posix"  # _contents: map the file rather than read it


@dataclass(frozen=True)
class Frame:
    head: dict[str, Any]
    table: TrackTable
    removed: np.ndarray  # (m,) int64
    size: int  # bytes in the file


def _raw(array: np.ndarray, dtype: type) -> np.ndarray:
    """The array's bytes without a copy when it is already contiguous of ``dtype``."""
    return np.ascontiguousarray(array, dtype).reshape(-1).view(np.uint8)


def frame_parts(head: dict[str, Any], table: TrackTable, removed: np.ndarray) -> list:
    """One frame: ``head`` (JSON-able keys of the caller) with ``table`` and ``removed``, as
    buffers to write in turn (a 1M-track snapshot is never copied into one bytes object)."""
    strings = {"paths": table.paths, "albums": table.albums, "fingerprints": list(table.fingerprints)}
    parts: list = [_raw(removed, np.int64)]
    parts += [_raw(getattr(table, name), dtype) for name, dtype, _ in NUMERIC]
    parts.append(json.dumps(strings).encode("ascii"))
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    full = {**head, "n": len(table), "m": int(removed.size), "body": sum(map(len, parts)), "crc32": crc}
    encoded = json.dumps(full).encode("ascii")
    return [_LENGTH.pack(len(encoded)) + encoded, *parts]


def snapshot_parts(head: dict[str, Any], table: TrackTable) -> list:
    return [MAGIC, *frame_parts(head, table, np.zeros(0, np.int64))]


def read_frames(path: Path) -> tuple[list[Frame], int] | None:
    """The intact frames of the file at ``path`` and where the last one ends; None when the
    file is absent, not a cache, or has no intact first frame."""
    try:
        data = _contents(path)
    except (OSError, ValueError):  # ValueError: mmap of a file emptied meanwhile
        return None
    if data[: len(MAGIC)] != MAGIC:
        log.warning("vector cache %s is not one; rebuilding it", path)
        return None
    frames, end = [], len(MAGIC)
    while end < len(data):
        try:
            frame, size = _decode(data, end)
        except (ValueError, KeyError, TypeError, struct.error) as exc:  # json errors are ValueErrors
            log.warning("vector cache %s: frame at byte %d is damaged (%s); ignoring it and the rest",
                        path, end, exc)  # fmt: skip
            break
        frames.append(frame)
        end += size
    return (frames, end) if frames else None


def _contents(path: Path) -> bytearray | mmap.mmap:
    """The file's bytes, writable (the arrays are views of them).

    On POSIX a private (copy-on-write) map: nothing is copied until read, where reading 58 MB
    (100k tracks) cost a CLI search 60 ms. Safe because the cache never changes a byte in
    place: frames are appended past the end and a rewrite replaces the file (the map keeps
    the old one). Elsewhere one read into a buffer of the file's size: Windows cannot replace
    a file that a process maps, and this process keeps the arrays for its lifetime.
    """
    with open(path, "rb", buffering=0) as f:
        size = os.fstat(f.fileno()).st_size
        if MAP_FILES and size > 0:
            return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_COPY)
        data = bytearray(size)
        view, got = memoryview(data), 0
        while got < size:
            n = f.readinto(view[got:])
            if not n:
                break
            got += n
        view.release()
        return data if got == size else data[:got]


def _decode(data: bytearray | mmap.mmap, start: int) -> tuple[Frame, int]:
    (head_len,) = _LENGTH.unpack_from(data, start)
    body_start = start + _LENGTH.size + head_len
    head = json.loads(bytes(data[start + _LENGTH.size : body_start]))
    body = memoryview(data)[body_start : body_start + int(head["body"])]
    if len(body) != head["body"]:
        raise ValueError("truncated")
    if zlib.crc32(body) != head["crc32"]:
        raise ValueError("CRC mismatch")
    n, m = int(head["n"]), int(head["m"])
    removed = np.frombuffer(body, np.int64, m)
    offset, arrays = 8 * m, {}
    for name, dtype, shape in NUMERIC:
        count = n * int(np.prod(shape, dtype=np.int64))
        arrays[name] = np.frombuffer(body, dtype, count, offset).reshape((n, *shape))
        offset += count * np.dtype(dtype).itemsize
    table = TrackTable(**arrays, **json.loads(bytes(body[offset:])))
    if not (len(table.paths) == len(table.albums) == len(table.fingerprints) == n):
        raise ValueError("row counts differ")
    size = body_start - start + len(body)
    return Frame(head, table, removed, size), size
