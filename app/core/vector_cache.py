"""A local file holding one model's searchable track vectors, kept in step with the catalog.

Public API::

    cache_path(catalog_path, model_id) -> Path          # "<catalog>.<model_id>.vectors"
    load_table(source, model_id, path) -> TrackTable    # what the search engine is built from

``source`` is any catalog with ``vector_changes(model_id, since)`` (app.core.catalog_changes
states the contract): the SQLite catalog, or a PostgreSQL one whose clients each keep a
cache on their own disk.

Why: building the search engine read every track vector out of SQLite, 1.9 s of a CLI
search on a 100k-track catalog (one row and one BLOB per track). The cache is one file
read in one call (100k tracks: 51 MB of float16 vectors plus ids, durations, BPMs, paths).
Each load asks the catalog only for what changed since the cache's counter, merges it,
and rewrites the file atomically when something changed.

Never trusted when stale: the cache is rebuilt from a full read when its file is missing,
truncated or fails its CRC-32, when it was made from another catalog (``catalog_id``) or
another model, when the catalog's counter is behind the cache's (a restored backup), and
when the merged row count differs from the catalog's. A cache that cannot be written (a
read-only folder, a full disk) only costs the next load a full read.

File layout (little-endian): ``MAGIC``, a uint32 header length, a JSON header
(``catalog_id``, ``model_id``, ``counter``, ``n``, ``crc32`` of the body), then the body:
ids int64[n], vectors float16[n, 256], n_windows int32[n], duration_s float32[n],
bpm float32[n], and the paths, albums and fingerprints as JSON (lone surrogates of
undecodable file names round-trip through JSON's ``\\udcXX`` escapes).
"""

from __future__ import annotations

import json
import logging
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from app.core.catalog_changes import VectorChanges
from app.core.catalog_records import TrackTable
from model.atomic import atomic_path
from model.dimensions import EMBEDDING_SIZE

log = logging.getLogger(__name__)

MAGIC = b"SLVCACHE1\n"
_NUMERIC = (("ids", np.int64, ()), ("vectors", np.float16, (EMBEDDING_SIZE,)),
            ("n_windows", np.int32, ()), ("duration_s", np.float32, ()), ("bpm", np.float32, ()))


class VectorSource(Protocol):
    def vector_changes(self, model_id: str, since: int | None) -> VectorChanges: ...


@dataclass(frozen=True)
class _Cached:
    catalog_id: str
    model_id: str
    counter: int
    table: TrackTable


def cache_path(catalog_path: str | os.PathLike[str], model_id: str) -> Path:
    return Path(f"{os.fspath(catalog_path)}.{model_id}.vectors")


def load_table(source: VectorSource, model_id: str, path: str | os.PathLike[str]) -> TrackTable:
    """``model_id``'s searchable vectors in ``source``, through the cache file at ``path``."""
    path = Path(path)
    cached = _read(path)
    if cached is not None and cached.model_id == model_id:
        changes = source.vector_changes(model_id, cached.counter)
        if changes.counter < 0:
            return changes.table
        if changes.catalog_id == cached.catalog_id and changes.counter >= cached.counter:
            table = merge(cached.table, changes)
            if len(table) == changes.total:
                if changes.counter != cached.counter:
                    _write(path, _Cached(changes.catalog_id, model_id, changes.counter, table))
                return table
        log.info("vector cache %s is stale; rebuilding it", path)
    changes = source.vector_changes(model_id, None)
    if changes.counter < 0:  # a catalog without a change counter: nothing to key a cache by
        return changes.table
    _write(path, _Cached(changes.catalog_id, model_id, changes.counter, changes.table))
    return changes.table


def merge(table: TrackTable, changes: VectorChanges) -> TrackTable:
    """``table`` with the changed rows replaced or added and the removed ones dropped."""
    if len(changes.table) == 0 and changes.removed.size == 0:
        return table
    gone = np.concatenate([changes.removed, changes.table.ids])
    keep = np.flatnonzero(~np.isin(table.ids, gone))
    n_old = keep.size
    ids = np.concatenate([table.ids[keep], changes.table.ids])
    order = np.argsort(ids, kind="stable")

    def pick_array(name: str) -> np.ndarray:
        both = np.concatenate([getattr(table, name)[keep], getattr(changes.table, name)])
        return both[order]

    def pick_list(name: str) -> list:
        old, new = getattr(table, name), getattr(changes.table, name)
        return [old[keep[i]] if i < n_old else new[i - n_old] for i in order.tolist()]

    return TrackTable(
        **{name: pick_array(name) for name, _, _ in _NUMERIC},
        paths=pick_list("paths"), albums=pick_list("albums"), fingerprints=pick_list("fingerprints"),
    )


def _read(path: Path) -> _Cached | None:
    """The cache at ``path``, or None when it is absent or damaged in any way."""
    try:
        with open(path, "rb") as f:
            data = bytearray(f.read())  # writable: the arrays below are views of it
    except OSError:
        return None
    try:
        if not data.startswith(MAGIC):
            raise ValueError("not a vector cache")
        start = len(MAGIC) + 4
        (head_len,) = struct.unpack_from("<I", data, len(MAGIC))
        head = json.loads(bytes(data[start : start + head_len]))
        body = memoryview(data)[start + head_len :]
        if zlib.crc32(body) != head["crc32"]:
            raise ValueError("CRC mismatch")
        n, offset, arrays = int(head["n"]), 0, {}
        for name, dtype, shape in _NUMERIC:
            count = n * int(np.prod(shape, dtype=np.int64))
            arrays[name] = np.frombuffer(body, dtype, count, offset).reshape((n, *shape))
            offset += count * np.dtype(dtype).itemsize
        strings = json.loads(bytes(body[offset:]))
        table = TrackTable(**arrays, **strings)
        if not (len(table.paths) == len(table.albums) == len(table.fingerprints) == n):
            raise ValueError("row counts differ")
        return _Cached(str(head["catalog_id"]), str(head["model_id"]), int(head["counter"]), table)
    except (ValueError, KeyError, TypeError, struct.error) as exc:  # json errors are ValueErrors
        log.warning("vector cache %s is damaged (%s); rebuilding it", path, exc)
        return None


def _write(path: Path, cached: _Cached) -> None:
    t = cached.table
    strings = {"paths": t.paths, "albums": t.albums, "fingerprints": list(t.fingerprints)}
    parts = [np.ascontiguousarray(getattr(t, name), dtype).tobytes() for name, dtype, _ in _NUMERIC]
    parts.append(json.dumps(strings).encode("ascii"))
    crc = 0
    for part in parts:
        crc = zlib.crc32(part, crc)
    head = json.dumps({"catalog_id": cached.catalog_id, "model_id": cached.model_id,
                       "counter": cached.counter, "n": len(t), "crc32": crc}).encode("ascii")
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            f.write(MAGIC + struct.pack("<I", len(head)) + head)
            for part in parts:
                f.write(part)
    except OSError as exc:
        log.info("vector cache %s not written (%s); the next load reads the catalog", path, exc)
