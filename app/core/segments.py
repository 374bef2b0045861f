"""Segment level of the score: each candidate's window spans compared with the query.

``segment_cosines`` is the heaviest arithmetic of a search (step 2 in app.core.search): every
offset of every candidate, per dimension. It is plain numpy on window vectors, with no engine
state, so it lives here with the sliding sums it is built on, and its exactness is tested
on its own (tests/app/core/test_search.py).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from app.core.query import Query
from model.dimensions import BLOCK_SIZE, N_DIMS

_SLIDING_ROWS = 512  # output rows per pass of _sliding_sum: its temporaries stay in the CPU's cache


def _sliding_sum(x: np.ndarray, m: int) -> np.ndarray:
    """``out[g] = x[g:g+m].sum(0)`` for every ``g``, in about ``2 log2(m)`` passes over ``x``.

    Binary doubling: partial sums of width 1, 2, 4, ... are combined by the bits of ``m``.
    (Faster than a prefix sum: numpy's cumsum along rows is a slow sequential loop.)
    Done ``_SLIDING_ROWS`` output rows at a time (the same additions in the same order):
    200 candidates' windows (12 MB) in one go spent half the time waiting on memory.
    """
    n_out = x.shape[0] - m + 1
    if n_out <= _SLIDING_ROWS:
        return _sliding_sum_block(x, m)
    out = np.empty((n_out, *x.shape[1:]), dtype=x.dtype)
    for first in range(0, n_out, _SLIDING_ROWS):
        last = min(first + _SLIDING_ROWS, n_out)
        out[first:last] = _sliding_sum_block(x[first : last + m - 1], m)
    return out


def _sliding_sum_block(x: np.ndarray, m: int) -> np.ndarray:
    n_out = x.shape[0] - m + 1
    result: np.ndarray | None = None
    power, width, shift, rest = x, 1, 0, m
    while True:
        if rest & 1:
            part = power[shift : shift + n_out]
            result = part.copy() if result is None else np.add(result, part, out=result)
            shift += width
        rest >>= 1
        if not rest:
            break
        power = power[:-width] + power[width:]
        width *= 2
    assert result is not None
    return result


def segment_cosines(query: Query, windows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per candidate, ``(offsets, 4)`` cosines of each window span with the query.

    Candidate ``t`` with ``n`` windows has ``max(n - min(spans), 0) + 1`` offsets; for a
    dimension with a longer span the offset is clamped so its span stays inside the track,
    and a track shorter than a span is compared whole.
    """
    if not windows:
        return []
    lengths = np.array([w.shape[0] for w in windows], dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    stacked = np.concatenate(windows).astype(np.float32, copy=False)
    n_offsets = np.maximum(lengths - min(query.spans), 0) + 1
    pair_track = np.repeat(np.arange(len(windows)), n_offsets)
    pair_offset = np.arange(int(n_offsets.sum())) - np.repeat(np.cumsum(n_offsets) - n_offsets, n_offsets)
    n = lengths[pair_track]
    out = np.empty((pair_track.shape[0], N_DIMS), dtype=np.float32)
    q = query.vector.reshape(N_DIMS, BLOCK_SIZE)
    for span in sorted(set(query.spans)):
        dims = [d for d in range(N_DIMS) if query.spans[d] == span]
        cols = np.concatenate([np.arange(d * BLOCK_SIZE, (d + 1) * BLOCK_SIZE) for d in dims])
        x = stacked if len(dims) == N_DIMS else stacked[:, cols]
        sums = np.empty((pair_track.shape[0], x.shape[1]), dtype=np.float32)
        whole = n < span  # tracks shorter than the span: compared whole
        if whole.any():
            sums[whole] = np.add.reduceat(x, starts, axis=0)[pair_track[whole]]
        if not whole.all():
            sliding = _sliding_sum(x, span)
            first = starts[pair_track] + np.minimum(pair_offset, np.maximum(n - span, 0))
            sums[~whole] = sliding[first[~whole]]
        blocks = sums.reshape(-1, len(dims), BLOCK_SIZE)
        norms = np.sqrt(np.einsum("pdk,pdk->pd", blocks, blocks))
        dots = np.einsum("pdk,dk->pd", blocks, q[dims])
        out[:, dims] = dots / np.maximum(norms, 1e-12)
    return np.split(out, np.cumsum(n_offsets)[:-1])
