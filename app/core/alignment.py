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

from collections.abc import Sequence

import numpy as np

from model.audio import WINDOW_SAMPLES, WINDOW_SECONDS
from model.dimensions import BLOCK_SIZE

PHASES = 4  # query phases per window: offsets resolve to WINDOW_SECONDS / PHASES = 0.74 s
N_DIMS = 4


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


def best_alignment(
    cosines: Sequence[np.ndarray], weights: np.ndarray, hop_s: float
) -> tuple[float, np.ndarray]:
    """Best ``(offset_s, cosines)`` over ``phase_cosines``: where ``weights @ cosines`` is highest.

    Offsets before the track's start are clamped to 0.
    """
    w = np.asarray(weights, dtype=np.float32)
    best_score, best_offset, best_dims = -np.inf, 0.0, np.zeros(N_DIMS, np.float32)
    for p, dims in enumerate(cosines):
        if dims.shape[0] == 0:
            continue
        scores = dims @ w
        o = int(np.argmax(scores))
        if scores[o] > best_score:
            best_score, best_dims = float(scores[o]), dims[o]
            best_offset = max(0.0, o * WINDOW_SECONDS - p * hop_s)
    return best_offset, best_dims


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
        scores.append(dims @ w)
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
