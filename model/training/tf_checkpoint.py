"""Read TensorFlow V2 checkpoints (``.index`` + ``.data-00000-of-00001``) without TensorFlow.

The musicnn wheel ships its weights only as TF1 checkpoints. Installing TensorFlow (~600 MB,
numpy<2) just to read 1.6 M floats would make the teacher hard to install and impossible to
run in the project's venv, so this module reads the two files directly:

- ``.index`` is a LevelDB-style table (SSTable): a 48-byte footer points at an index block,
  whose entries point at data blocks; each data-block entry maps a tensor name to a
  ``BundleEntryProto`` (dtype, shape, shard, byte offset and size in the data file). The
  empty key holds a ``BundleHeaderProto`` and is skipped.
- ``.data-00000-of-00001`` holds the raw little-endian tensor bytes.

Only what TF's ``BundleWriter`` produces is supported: uncompressed blocks, one shard, no
sliced or string tensors. Anything else raises ``ValueError`` rather than guessing.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48
_BLOCK_TRAILER_SIZE = 5  # 1 byte compression type + 4 bytes CRC
_DTYPES = {1: np.float32, 2: np.float64, 3: np.int32, 9: np.int64}  # tensorflow DataType enum


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    """Decode one base-128 varint at ``pos``; return (value, position after it)."""
    value = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, pos
        shift += 7


def _proto_fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """Split a protobuf message into (field number, value) pairs, in order (no schema needed)."""
    fields: list[tuple[int, int | bytes]] = []
    pos = 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 1:
            value, pos = struct.unpack_from("<Q", data, pos)[0], pos + 8
        elif wire == 2:
            length, pos = _varint(data, pos)
            value, pos = data[pos:pos + length], pos + length
        elif wire == 5:
            value, pos = struct.unpack_from("<I", data, pos)[0], pos + 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wire}")
        fields.append((number, value))
    return fields


def _block_entries(table: bytes, offset: int, size: int) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of one table block; keys are prefix-compressed against the previous."""
    if table[offset + size] != 0:
        raise ValueError("compressed checkpoint index blocks are not supported")
    block = table[offset:offset + size]
    num_restarts = struct.unpack_from("<I", block, len(block) - 4)[0]
    end = len(block) - 4 - 4 * num_restarts
    entries: list[tuple[bytes, bytes]] = []
    key = b""
    pos = 0
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        value_length, pos = _varint(block, pos)
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + value_length]))
        pos += value_length
    return entries


def _index_entries(index_path: Path) -> list[tuple[str, bytes]]:
    """Every (tensor name, BundleEntryProto bytes) pair of a checkpoint's ``.index`` table."""
    table = index_path.read_bytes()
    footer = table[-_FOOTER_SIZE:]
    if struct.unpack_from("<Q", footer, _FOOTER_SIZE - 8)[0] != _TABLE_MAGIC:
        raise ValueError(f"{index_path} is not a TensorFlow checkpoint index")
    _, pos = _varint(footer, 0)  # metaindex offset (unused: no filters)
    _, pos = _varint(footer, pos)  # metaindex size
    index_offset, pos = _varint(footer, pos)
    index_size, _ = _varint(footer, pos)
    out: list[tuple[str, bytes]] = []
    for _, handle in _block_entries(table, index_offset, index_size):
        block_offset, pos = _varint(handle, 0)
        block_size, _ = _varint(handle, pos)
        out += [(k.decode(), v) for k, v in _block_entries(table, block_offset, block_size) if k]
    return out


def _shape(proto: bytes) -> tuple[int, ...]:
    """Dimensions of a TensorShapeProto (field 2: repeated Dim, whose field 1 is the size)."""
    dims = []
    for number, dim in _proto_fields(proto):
        if number == 2:
            sizes = [v for n, v in _proto_fields(dim) if n == 1]
            dims.append(int(sizes[0]) if sizes else 0)
    return tuple(dims)


def read_checkpoint(prefix: str | Path) -> dict[str, np.ndarray]:
    """All tensors of a TF V2 checkpoint, by variable name.

    ``prefix`` is what TF calls the checkpoint prefix: the path without ``.index``. musicnn's
    folders use an empty file stem, so their prefix is the folder plus ``/``.
    """
    prefix = str(prefix)
    data = Path(prefix + ".data-00000-of-00001").read_bytes()
    tensors: dict[str, np.ndarray] = {}
    for name, entry in _index_entries(Path(prefix + ".index")):
        fields = dict(_proto_fields(entry))
        if fields.get(3, 0) != 0 or 7 in fields:
            raise ValueError(f"{name}: sharded or sliced checkpoint tensors are not supported")
        dtype = _DTYPES.get(int(fields.get(1, 0)))
        if dtype is None:
            raise ValueError(f"{name}: unsupported tensor dtype {fields.get(1)}")
        offset, size = int(fields.get(4, 0)), int(fields.get(5, 0))
        array = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"), count=size // np.dtype(dtype).itemsize, offset=offset)
        tensors[name] = array.reshape(_shape(fields.get(2, b""))).copy()
    return tensors
