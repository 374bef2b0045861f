"""Calibrated scores: unrelated tracks near 0, identical spans 1, in every dimension alike."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.calibration import MIN_TRACKS, LibrarySpread, calibrate
from model.dimensions import BLOCK_SIZE, normalize_blocks


def _crowded_library(rng: np.random.Generator, tracks: int, spread: tuple[float, ...]) -> list[np.ndarray]:
    """Tracks whose block ``d`` is a shared direction plus noise of size ``spread[d]``: the
    cosines of unrelated tracks crowd near 1, more in the dimensions with less noise."""
    shared = rng.normal(size=256)
    library = []
    for _ in range(tracks):
        noise = rng.normal(size=(int(rng.integers(3, 12)), 256))
        for d, size in enumerate(spread):
            noise[:, d * BLOCK_SIZE : (d + 1) * BLOCK_SIZE] *= size
        library.append(normalize_blocks(shared + noise).astype(np.float32))
    return library


def test_unrelated_pairs_center_on_zero_and_identical_spans_score_one() -> None:
    *library, other = _crowded_library(np.random.default_rng(3), 61, (0.02, 0.05, 0.1, 0.3))
    spread = LibrarySpread(library)
    centers = spread.center(2)
    assert np.all(centers > 0.5) and np.all(np.diff(centers) < 0)  # less noise, more crowded
    # A track the sample never saw, from the same distribution: its median calibrated score
    # against the library is ~0 in every dimension, though the raw cosines differ by dimension.
    query = normalize_blocks(other[:2].mean(0)).reshape(4, BLOCK_SIZE)
    raw = np.array([[normalize_blocks(w[:2].mean(0)).reshape(4, BLOCK_SIZE)[d] @ query[d]
                     for d in range(4)] for w in library])
    calibrated = calibrate(raw, centers, clip=False)
    assert np.all(np.abs(np.median(calibrated, axis=0)) < 0.35)
    assert np.all(np.median(raw, axis=0) > 0.5)  # while raw cosines look "similar"
    assert calibrate(np.ones(4), centers) == pytest.approx(np.ones(4))
    assert np.all(calibrate(raw, centers) >= 0) and np.all(calibrate(raw, centers) <= 1)


def test_longer_spans_have_higher_centers() -> None:
    spread = LibrarySpread(_crowded_library(np.random.default_rng(5), 40, (0.3, 0.3, 0.3, 0.3)))
    assert np.all(spread.center(8) > spread.center(1))
    assert spread.centers((1, 8, 1, 8)) == pytest.approx(
        [spread.center(1)[0], spread.center(8)[1], spread.center(1)[2], spread.center(8)[3]])


def test_a_tiny_library_keeps_raw_cosines_and_sampling_is_deterministic() -> None:
    library = _crowded_library(np.random.default_rng(6), MIN_TRACKS - 1, (0.1,) * 4)
    assert LibrarySpread(library).center(1) == pytest.approx(np.zeros(4))
    big = {i: w for i, w in enumerate(_crowded_library(np.random.default_rng(7), 300, (0.1,) * 4))}
    asked: list[int] = []

    def source(ids):
        asked.extend(ids)
        return {i: big[i] for i in ids}

    first = LibrarySpread.sample(list(big), source).center(3)
    assert len(asked) == 256  # a bounded sample, not the whole library
    assert LibrarySpread.sample(list(big), source).center(3) == pytest.approx(first)


def test_a_degenerate_library_does_not_divide_by_zero() -> None:
    same = normalize_blocks(np.ones((2, 256), dtype=np.float32))
    centers = LibrarySpread([same] * 10).center(1)
    assert np.all(np.isfinite(calibrate(np.ones(4), centers)))
