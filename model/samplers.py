"""Which triplets are valid, and seeded samplers that draw them.

Similarity rules (paper section 3.1): two tracks are similar in genre, mood or instrument
when they share at least one tag, and in tempo when their BPMs differ by at most
``TEMPO_TOLERANCE_BPM``; a negative shares no tag / differs by more. A track with an
unknown value in a dimension is never an anchor, positive or negative for it.
Track triplets: anchor and positive are excerpts of one track overlapping by at most
50 %, the negative is an excerpt of another track.

Two forms are offered:

* explicit triplets (:class:`CategoryTripletSampler`, :func:`sample_track_triplets`),
  used by evaluation, which follows the paper's fixed-seed held-out triplets;
* in-batch pair matrices (:func:`pair_matrices`), used by training: a batch holds two
  excerpts of each of M tracks and every (anchor, positive, negative) among them that
  obeys the rules is a training triplet. One forward pass then serves hundreds of
  triplets instead of one, which is what makes training feasible on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.dimensions import DIMENSIONS
from model.labels import TAG_DIMENSIONS, TrackLabels

TEMPO_TOLERANCE_BPM = 5.0
MAX_EXCERPT_OVERLAP = 0.5


def similar(a: TrackLabels, b: TrackLabels, dimension: str) -> bool | None:
    """True/False by the paper's rule, None when either value is unknown."""
    if not (a.knows(dimension) and b.knows(dimension)):
        return None
    if dimension == "tempo":
        return abs(float(a.bpm) - float(b.bpm)) <= TEMPO_TOLERANCE_BPM  # type: ignore[arg-type]
    return bool(a.tags(dimension) & b.tags(dimension))


class CategoryTripletSampler:
    """Draws (anchor, positive, negative) track indices for one dimension, with rejection.

    Index structures are built once so a draw costs O(1) tries on typical data.
    """

    def __init__(self, labels: Sequence[TrackLabels]) -> None:
        self.labels = list(labels)
        self._known = {d: np.array([i for i, t in enumerate(self.labels) if t.knows(d)]) for d in DIMENSIONS}
        self._by_tag: dict[str, dict[str, np.ndarray]] = {}
        for d in TAG_DIMENSIONS:
            groups: dict[str, list[int]] = {}
            for i in self._known[d]:
                for tag in self.labels[i].tags(d):
                    groups.setdefault(tag, []).append(int(i))
            self._by_tag[d] = {tag: np.array(v) for tag, v in groups.items()}
        known_tempo = self._known["tempo"]
        bpms = np.array([self.labels[i].bpm for i in known_tempo], dtype=np.float64)
        order = np.argsort(bpms, kind="stable")
        self._tempo_index = known_tempo[order] if len(known_tempo) else known_tempo
        self._tempo_sorted = bpms[order]

    def sample(self, dimension: str, rng: np.random.Generator, tries: int = 100) -> tuple[int, int, int] | None:
        """One triplet, or None when the data cannot provide one for ``dimension``."""
        known = self._known[dimension]
        if len(known) < 3:
            return None
        for _ in range(tries):
            anchor = int(rng.choice(known))
            positive = self._positive(dimension, anchor, rng)
            if positive is None:
                continue
            negative = self._negative(dimension, anchor, rng)
            if negative is not None:
                return anchor, positive, negative
        return None

    def sample_many(self, dimension: str, n: int, seed: int) -> list[tuple[int, int, int]]:
        """``n`` triplets (fewer if the data cannot provide them), reproducible from ``seed``."""
        rng = np.random.default_rng([seed, DIMENSIONS.index(dimension)])
        out = []
        for _ in range(n):
            triplet = self.sample(dimension, rng)
            if triplet is None:
                break
            out.append(triplet)
        return out

    def _positive(self, dimension: str, anchor: int, rng: np.random.Generator) -> int | None:
        if dimension == "tempo":
            bpm = float(self.labels[anchor].bpm)  # type: ignore[arg-type]
            lo = np.searchsorted(self._tempo_sorted, bpm - TEMPO_TOLERANCE_BPM, side="left")
            hi = np.searchsorted(self._tempo_sorted, bpm + TEMPO_TOLERANCE_BPM, side="right")
            candidates = self._tempo_index[lo:hi]
        else:
            tags = sorted(self.labels[anchor].tags(dimension))
            candidates = self._by_tag[dimension][tags[int(rng.integers(len(tags)))]]
        candidates = candidates[candidates != anchor]
        return int(rng.choice(candidates)) if len(candidates) else None

    def _negative(self, dimension: str, anchor: int, rng: np.random.Generator) -> int | None:
        if dimension == "tempo":
            bpm = float(self.labels[anchor].bpm)  # type: ignore[arg-type]
            lo = np.searchsorted(self._tempo_sorted, bpm - TEMPO_TOLERANCE_BPM, side="left")
            hi = np.searchsorted(self._tempo_sorted, bpm + TEMPO_TOLERANCE_BPM, side="right")
            candidates = np.concatenate([self._tempo_index[:lo], self._tempo_index[hi:]])
            return int(rng.choice(candidates)) if len(candidates) else None
        known = self._known[dimension]
        for _ in range(50):
            candidate = int(rng.choice(known))
            if similar(self.labels[anchor], self.labels[candidate], dimension) is False:
                return candidate
        return None


def excerpt_pair(length: int, window: int, rng: np.random.Generator) -> tuple[int, int] | None:
    """Start offsets of two excerpts of one track overlapping by at most 50 %.

    Units are whatever ``length`` and ``window`` use (samples or frames). Returns None when
    the track is shorter than 1.5 windows, where no such pair exists.
    """
    gap = int(np.ceil(window * (1.0 - MAX_EXCERPT_OVERLAP)))
    span = length - window
    if span < gap:
        return None
    # Choose the distance between the starts first, then where the pair sits.
    distance = int(rng.integers(gap, span + 1))
    first = int(rng.integers(0, span - distance + 1))
    pair = (first, first + distance)
    return pair if rng.random() < 0.5 else (pair[1], pair[0])


def overlap_fraction(start_a: int, start_b: int, window: int) -> float:
    return max(0, window - abs(start_a - start_b)) / window


def sample_track_triplets(
    lengths: Sequence[int], window: int, n: int, seed: int
) -> list[tuple[int, int, int, int, int, int]]:
    """``n`` track triplets ``(track, start_a, start_p, other, start_n, _)`` from ``lengths``.

    The last field is reserved (0) so the tuple layout can grow without breaking callers.
    """
    rng = np.random.default_rng([seed, 101])
    lengths = np.asarray(lengths)
    eligible = np.flatnonzero(lengths - window >= np.ceil(window * (1 - MAX_EXCERPT_OVERLAP)))
    if len(eligible) == 0 or len(lengths) < 2:
        return []
    out = []
    for _ in range(n):
        track = int(rng.choice(eligible))
        pair = excerpt_pair(int(lengths[track]), window, rng)
        assert pair is not None
        other = int(rng.integers(len(lengths) - 1))
        other += other >= track
        start_n = int(rng.integers(0, max(1, int(lengths[other]) - window + 1)))
        out.append((track, pair[0], pair[1], other, start_n, 0))
    return out


def label_arrays(labels: Sequence[TrackLabels]) -> dict[str, np.ndarray]:
    """Per-dimension arrays for fast pair tests: multi-hot tags (N, T) bool, tempo (N,) float.

    Unknown tempo is NaN; unknown tags are an all-False row.
    """
    arrays: dict[str, np.ndarray] = {}
    for d in TAG_DIMENSIONS:
        vocab = sorted({tag for t in labels for tag in t.tags(d)})
        column = {tag: j for j, tag in enumerate(vocab)}
        hot = np.zeros((len(labels), max(1, len(vocab))), dtype=bool)
        for i, t in enumerate(labels):
            for tag in t.tags(d):
                hot[i, column[tag]] = True
        arrays[d] = hot
    arrays["tempo"] = np.array([np.nan if t.bpm is None else t.bpm for t in labels], dtype=np.float64)
    return arrays


def pair_matrices(
    arrays: dict[str, np.ndarray], rows: np.ndarray, track_ids: np.ndarray, tempo_unknown: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Positive and negative pair matrices for a batch, shape (D, N, N) bool each.

    ``rows`` index into ``arrays`` (the tracks of the N batch items); ``track_ids`` say
    which items are excerpts of the same track, which never count as a category pair
    (that would teach track identity, which the track triplets already cover).
    ``tempo_unknown`` (N,) marks items whose tempo is not their track's (time-stretched
    excerpts): they take part in no tempo pair.
    """
    n = len(rows)
    positives = np.zeros((len(DIMENSIONS), n, n), dtype=bool)
    negatives = np.zeros_like(positives)
    other_track = track_ids[:, None] != track_ids[None, :]
    for k, d in enumerate(DIMENSIONS):
        if d == "tempo":
            bpm = arrays["tempo"][rows]
            known = ~np.isnan(bpm) if tempo_unknown is None else ~np.isnan(bpm) & ~tempo_unknown
            diff = np.abs(bpm[:, None] - bpm[None, :])
            with np.errstate(invalid="ignore"):
                close = diff <= TEMPO_TOLERANCE_BPM
        else:
            hot = arrays[d][rows].astype(np.float32)
            known = hot.any(axis=1)
            close = (hot @ hot.T) > 0
        both = known[:, None] & known[None, :] & other_track
        positives[k] = both & close
        negatives[k] = both & ~close
    return positives, negatives
