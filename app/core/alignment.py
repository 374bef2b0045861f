"""Where in a library track a query clip matches: window-sequence alignment at sub-window phase.

Library tracks are embedded on a fixed grid of non-overlapping windows (2.97 s). A query
cut at an arbitrary time is off that grid by up to half a window, and comparing one mean
vector per span cannot tell which offset of a long, repetitive track is the right one. So
the query is also embedded at ``PHASES`` phases: phase ``p`` is the clip's sequence of
non-overlapping windows starting ``p * WINDOW_SECONDS / PHASES`` into the clip. One phase
lines up with the library grid to within ``WINDOW_SECONDS / (2 * PHASES)`` (0.37 s for 4).
For every phase ``p`` and library window ``o`` the score is the mean, over the query's
windows ``i``, of ``sum_d w_d cos_d(query_p[i], track[o + i])``: the whole sequence must
line up, window by window, not just its average. The best ``(p, o)`` gives the clip's start
in the track, ``o * WINDOW_SECONDS - p * hop``.

Cost: ``PHASES`` times the query's windows to embed (once per query), and for each result
shown a ``(m, n)`` product per phase (tens of microseconds for a 3-minute track), once per
query: the weight-free part (``phase_cosines``) is kept by the search, so a slider move
only picks the best offset again.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np

from model.audio import WINDOW_SAMPLES, WINDOW_SECONDS
from model.dimensions import BLOCK_SIZE, N_DIMS

PHASES = 4  # query phases per window: offsets resolve to WINDOW_SECONDS / PHASES = 0.74 s


def phase_hop_s(phases: int = PHASES) -> float:
    """Seconds between two query phases."""
    return (WINDOW_SAMPLES // phases) / (WINDOW_SAMPLES / WINDOW_SECONDS)


def split_phases(samples: np.ndarray, phases: int = PHASES) -> list[np.ndarray]:
    """Mono samples -> per phase, ``(m_p, WINDOW_SAMPLES)`` non-overlapping windows.

    Phase 0 is ``split_windows`` of the clip; a phase whose start leaves less than one window
    is left out (so a clip shorter than one window has no phases).
    """
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    hop = WINDOW_SAMPLES // phases
    out = []
    for p in range(phases):
        part = samples[p * hop :]
        n = part.size // WINDOW_SAMPLES
        if n == 0:
            break
        out.append(part[: n * WINDOW_SAMPLES].reshape(n, WINDOW_SAMPLES))
    return out


def phase_cosines(phases: Sequence[np.ndarray], track: np.ndarray) -> list[np.ndarray]:
    """Per phase, ``(offsets, 4)`` per-dimension cosines averaged over the aligned window pairs.

    ``phases[p]`` is ``(m_p, 256)`` block-normalised window vectors, ``track`` is
    ``(n, 256)``. Independent of the slider weights, so a search keeps it per candidate and
    a slider move only re-picks the best offset (``best_alignment``). A track shorter than
    a phase's sequence is compared with the sequence's first ``n`` windows at offset 0; an
    empty phase or track gives ``(0, 4)``.
    """
    x = np.asarray(track, dtype=np.float32).reshape(track.shape[0], N_DIMS, BLOCK_SIZE).transpose(1, 2, 0)
    n = x.shape[2]
    out = []
    for q in phases:
        m = q.shape[0]
        if m == 0 or n == 0:
            out.append(np.zeros((0, N_DIMS), np.float32))
            continue
        qb = np.asarray(q, dtype=np.float32).reshape(m, N_DIMS, BLOCK_SIZE).transpose(1, 0, 2)
        pair = np.matmul(qb, x).transpose(1, 2, 0)  # (m, n, 4): cosines of window pairs
        if n < m:
            out.append(np.einsum("iid->d", pair[:n, :n])[None, :] / n)
            continue
        count = n - m + 1
        dims = pair[0, :count].copy()
        for i in range(1, m):  # the diagonals: query window i against track window o + i
            dims += pair[i, i : i + count]
        out.append(dims / m)
    return out


def phase_cosines_many(phases: Sequence[np.ndarray], tracks: Sequence[np.ndarray]) -> list[list[np.ndarray]]:
    """``[phase_cosines(phases, t) for t in tracks]``, the same numbers to the bit, with the
    tracks of each length in one product per phase (a search prepares thousands of them):
    each track's products are the same BLAS calls on the same shapes and strides, and its
    diagonals are summed in the same order."""
    out: list[list[np.ndarray]] = [[] for _ in tracks]
    lengths = np.array([t.shape[0] for t in tracks], dtype=np.int64)
    for n in np.unique(lengths):
        group = np.flatnonzero(lengths == n)
        if n == 0 or any(0 < q.shape[0] and n < q.shape[0] for q in phases) or len(group) == 1:
            for i in group:
                out[i] = phase_cosines(phases, tracks[i])
            continue
        x = np.stack([np.asarray(tracks[i], dtype=np.float32) for i in group])
        x = x.reshape(len(group), n, N_DIMS, BLOCK_SIZE).transpose(0, 2, 3, 1)  # (T, 4, 64, n)
        for q in phases:
            m = q.shape[0]
            if m == 0:
                for i in group:
                    out[i].append(np.zeros((0, N_DIMS), np.float32))
                continue
            qb = np.asarray(q, dtype=np.float32).reshape(m, N_DIMS, BLOCK_SIZE).transpose(1, 0, 2)
            pair = np.matmul(qb, x).transpose(0, 2, 3, 1)  # (T, m, n, 4)
            count = n - m + 1
            dims = pair[:, 0, :count].copy()
            for i in range(1, m):
                dims += pair[:, i, i : i + count]
            dims = dims / m
            for j, i in enumerate(group):
                out[i].append(dims[j])
    return out


def weighted_scores(cosines: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``(n,)`` = ``(n, 4) cosines`` weighted by ``weights``, by the same four float32
    multiply-adds for every row: a row's score does not depend on the array it sits in (a
    BLAS ``cosines @ weights`` rounds the same row differently at different places, so
    scores computed per candidate and for many candidates at once would not agree)."""
    c = np.asarray(cosines, dtype=np.float32)
    w = np.asarray(weights, dtype=np.float32)
    return c[:, 0] * w[0] + c[:, 1] * w[1] + c[:, 2] * w[2] + c[:, 3] * w[3]


def stack_phases(cosines: Sequence[np.ndarray], hop_s: float) -> tuple[np.ndarray, np.ndarray]:
    """``phase_cosines`` as one ``(P, 4)`` array, phase after phase, and each row's offset in
    seconds (clamped to 0): what ``best_alignments`` takes, made once per candidate.

    The offsets depend only on the phases' lengths: candidates of the same length share one
    read-only array (a search keeps thousands of stacks while it prepares slider moves)."""
    rows = [np.asarray(dims, dtype=np.float32).reshape(-1, N_DIMS) for dims in cosines]
    if not rows:
        return np.zeros((0, N_DIMS), np.float32), np.zeros(0)
    return np.concatenate(rows), _stack_offsets(tuple(r.shape[0] for r in rows), hop_s)


@functools.lru_cache(maxsize=4096)
def _stack_offsets(lengths: tuple[int, ...], hop_s: float) -> np.ndarray:
    offsets = np.concatenate([np.maximum(0.0, np.arange(n) * WINDOW_SECONDS - p * hop_s) for p, n in enumerate(lengths)])
    offsets.flags.writeable = False
    return offsets


def best_alignment(
    cosines: Sequence[np.ndarray], weights: np.ndarray, hop_s: float
) -> tuple[float, np.ndarray]:
    """Best ``(offset_s, cosines)`` over ``phase_cosines``: where ``weights @ cosines`` is highest
    (the first such place, phase by phase, offset by offset).

    Offsets before the track's start are clamped to 0.
    """
    offsets, dims = best_alignments([stack_phases(cosines, hop_s)], weights)
    return float(offsets[0]), dims[0]


def best_alignments(
    stacks: Sequence[tuple[np.ndarray, np.ndarray]], weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """``best_alignment`` for many candidates at once (a slider move re-aligns the best 3k):
    ``stacks`` are their ``stack_phases``; returns offsets ``(n,)`` and cosines ``(n, 4)``.
    A candidate with no aligned windows, or a NaN among its cosines, gets offset 0 and zero
    cosines."""
    n = len(stacks)
    offsets, dims = np.zeros(n), np.zeros((n, N_DIMS), np.float32)
    lengths = np.array([rows.shape[0] for rows, _ in stacks], dtype=np.int64)
    have = np.flatnonzero(lengths)
    if have.size == 0:
        return offsets, dims
    rows = np.concatenate([stacks[i][0] for i in have])
    seconds = np.concatenate([stacks[i][1] for i in have])
    scores = weighted_scores(rows, weights)
    counts = lengths[have]
    bounds = np.concatenate([[0], np.cumsum(counts)[:-1]])
    best = np.maximum.reduceat(scores, bounds)
    owner = np.repeat(np.arange(have.size), counts)
    hits = np.flatnonzero(scores == best[owner])
    found, first = np.unique(owner[hits], return_index=True)  # none where a score is NaN
    pick = hits[first]  # each candidate's first best row
    offsets[have[found]], dims[have[found]] = seconds[pick], rows[pick]
    return offsets, dims


def best_offsets(
    cosines: Sequence[np.ndarray], weights: np.ndarray, hop_s: float, n: int, spacing_s: float
) -> list[float]:
    """The ``n`` best offsets (seconds, best first) over ``phase_cosines``, each at least
    ``spacing_s`` from the ones before it: the places worth a closer look (app.core.refine).

    The first is ``best_alignment``'s offset.
    """
    w = np.asarray(weights, dtype=np.float32)
    scores, offsets = [], []
    for p, dims in enumerate(cosines):
        scores.append(weighted_scores(dims.reshape(-1, N_DIMS), w))
        offsets.append(np.maximum(0.0, np.arange(dims.shape[0]) * WINDOW_SECONDS - p * hop_s))
    if not scores:
        return []
    flat_scores, flat_offsets = np.concatenate(scores), np.concatenate(offsets)
    chosen: list[float] = []
    for i in np.argsort(-flat_scores, kind="stable"):
        offset = float(flat_offsets[i])
        if all(abs(offset - c) >= spacing_s for c in chosen):
            chosen.append(offset)
            if len(chosen) == n:
                break
    return chosen


def align(
    phases: Sequence[np.ndarray], track: np.ndarray, weights: np.ndarray, hop_s: float
) -> tuple[float, np.ndarray]:
    """Best ``(offset_s, cosines)`` of the query's phase windows against a track's windows
    (``phase_cosines`` then ``best_alignment``)."""
    return best_alignment(phase_cosines(phases, track), weights, hop_s)
