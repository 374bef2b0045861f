"""The four similarity dimensions and the fixed disjoint masks that give each its block.

Dimension ``i`` owns embedding columns ``[BLOCK_SIZE*i, BLOCK_SIZE*(i+1))`` (the paper's
fixed disjoint masks). Storing every block L2-normalised makes a weighted inner product
equal to ``sum_d w_d * cos_d``, which is what the search sliders rely on.
"""

from __future__ import annotations

import numpy as np

from model.constants import DIMENSIONS  # noqa: F401 - re-exported: the model side imports it from here

BLOCK_SIZE = 64
N_DIMS = len(DIMENSIONS)  # 4 blocks
EMBEDDING_SIZE = BLOCK_SIZE * N_DIMS  # 256


def block_slice(dimension: str | int) -> slice:
    """Columns of the embedding owned by ``dimension`` (name or index)."""
    index = DIMENSIONS.index(dimension) if isinstance(dimension, str) else int(dimension)
    if not 0 <= index < len(DIMENSIONS):
        raise ValueError(f"no dimension with index {index}")
    return slice(BLOCK_SIZE * index, BLOCK_SIZE * (index + 1))


def dimension_masks() -> np.ndarray:
    """``(len(DIMENSIONS), EMBEDDING_SIZE)`` float32 0/1 masks, one row per dimension."""
    masks = np.zeros((len(DIMENSIONS), EMBEDDING_SIZE), dtype=np.float32)
    for i in range(len(DIMENSIONS)):
        masks[i, block_slice(i)] = 1.0
    return masks


def normalize_blocks(vectors: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """L2-normalise each 64-d block of ``(..., 256)`` vectors independently (float32 copy)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    blocks = vectors.reshape(*vectors.shape[:-1], len(DIMENSIONS), BLOCK_SIZE)
    norms = np.linalg.norm(blocks, axis=-1, keepdims=True)
    return (blocks / np.maximum(norms, eps)).reshape(vectors.shape)


def lowest_block_agreement(a: np.ndarray, b: np.ndarray) -> float:
    """The lowest per-block cosine between matching rows of block-normalised ``a`` and ``b``
    (``(n, 256)`` each): how closely two runtimes or precisions embed the same windows."""
    a, b = np.asarray(a, dtype=np.float32), np.asarray(b, dtype=np.float32)
    return float((a * b).reshape(len(a), N_DIMS, BLOCK_SIZE).sum(-1).min())


def block_cosines(query: np.ndarray, candidates: np.ndarray) -> np.ndarray:
    """Per-dimension cosine between block-normalised ``query`` (256,) and ``candidates`` (N, 256).

    Returns ``(N, len(DIMENSIONS))``.
    """
    q = np.asarray(query, dtype=np.float32).reshape(len(DIMENSIONS), BLOCK_SIZE)
    c = np.asarray(candidates, dtype=np.float32).reshape(-1, len(DIMENSIONS), BLOCK_SIZE)
    return np.einsum("ndk,dk->nd", c, q)
