"""A model file's id: the first 16 hex digits of its SHA-256 (torch-free, so the app's
model listing and the CLI's model choice can compute it without loading torch).

The catalog records this id with every vector, so vectors of two models are never mixed.
"""

from __future__ import annotations

import hashlib
import os

MODEL_ID_HEX = 16


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_id_of(path: str | os.PathLike[str]) -> str:
    return file_sha256(path)[:MODEL_ID_HEX]
