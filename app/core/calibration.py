"""Readable per-dimension scores: cosines calibrated against the library's own spread.

A trained model's cosines crowd near 1 on real music (every piece of music is more like
another piece of music than like noise), so a raw ``cos = .998`` says nothing by itself: in
one library and dimension it is a close match, in another it is what any two tracks get.
Calibration maps each dimension's cosine through the spread of *unrelated* pairs in this
library::

    calibrated = clip((cos - center_d) / (1 - center_d), 0, 1)

``center_d`` is the median cosine, in dimension ``d``, between spans of two different
library tracks of the same length as the query's span (longer spans average more windows
and agree more, so the center depends on the span). A typical unrelated track therefore
scores 0 and an identical span 1, in every dimension alike: equal sliders then weigh the
dimensions equally in these units, and a bar of .8 means the same thing for mood as for
tempo. Ranking uses the same units (see ``app.core.search``).

The sample is a fixed-seed draw of at most ``SAMPLE_TRACKS`` tracks (one random span per
track, all pairs between them), taken once per library load; libraries of fewer than
``MIN_TRACKS`` tracks have no usable spread and keep center 0 (the raw cosine, clipped).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from model.dimensions import BLOCK_SIZE, N_DIMS, normalize_blocks

SAMPLE_TRACKS = 256  # 32 640 pairs: the median is stable to ~.001, the windows read in ~20 ms
MIN_TRACKS = 5  # 10 pairs: fewer give no meaningful median
MIN_SCALE = 1e-6  # a degenerate library (all tracks one direction) must not divide by zero

WindowSource = Callable[[Sequence[int]], Mapping[int, np.ndarray]]


class LibrarySpread:
    """The unrelated-pair cosine centers of one library, per query span length (cached)."""

    def __init__(self, windows: Sequence[np.ndarray], seed: int = 0) -> None:
        self._windows = [np.asarray(w, dtype=np.float32) for w in windows if len(w)]
        self._seed = seed
        self._centers: dict[int, np.ndarray] = {}

    @classmethod
    def sample(cls, track_ids: Sequence[int], source: WindowSource, seed: int = 0) -> LibrarySpread:
        """Read the windows of a fixed-seed sample of ``track_ids`` through ``source``."""
        ids = np.asarray(track_ids, dtype=np.int64)
        if ids.shape[0] > SAMPLE_TRACKS:
            ids = np.random.default_rng(seed).choice(ids, SAMPLE_TRACKS, replace=False)
        found = source([int(i) for i in ids])
        return cls([found[int(i)] for i in ids if int(i) in found], seed)

    def center(self, span: int) -> np.ndarray:
        """``(4,)`` median block cosine between spans of ``span`` windows of different tracks."""
        span = max(1, int(span))
        if span not in self._centers:
            self._centers[span] = self._median_cosines(span)
        return self._centers[span]

    def centers(self, spans: Sequence[int]) -> np.ndarray:
        """``(4,)``: dimension ``d``'s center at ``spans[d]`` (mix-and-match spans differ)."""
        return np.array([self.center(s)[d] for d, s in enumerate(spans)], dtype=np.float32)

    def _median_cosines(self, span: int) -> np.ndarray:
        if len(self._windows) < MIN_TRACKS:
            return np.zeros(N_DIMS, dtype=np.float32)
        rng = np.random.default_rng(self._seed + span)
        vectors = []
        for w in self._windows:
            start = int(rng.integers(0, max(w.shape[0] - span, 0) + 1))
            vectors.append(w[start : start + span].mean(axis=0))
        blocks = normalize_blocks(np.stack(vectors)).reshape(len(vectors), N_DIMS, BLOCK_SIZE)
        upper = np.triu_indices(len(vectors), k=1)
        cosines = np.einsum("idk,jdk->ijd", blocks, blocks)[upper]  # (pairs, 4)
        return np.median(cosines, axis=0).astype(np.float32)


def calibrate(cosines: np.ndarray, centers: np.ndarray, clip: bool = True) -> np.ndarray:
    """Map raw cosines (``(..., 4)``) to calibrated similarity (0 = unrelated, 1 = identical)."""
    scaled = (np.asarray(cosines, dtype=np.float32) - centers) / scale(centers)
    return np.clip(scaled, 0.0, 1.0) if clip else scaled


def scale(centers: np.ndarray) -> np.ndarray:
    """``1 - center`` per dimension: the width of the calibrated range in raw cosine."""
    return np.maximum(1.0 - np.asarray(centers, dtype=np.float32), MIN_SCALE)
