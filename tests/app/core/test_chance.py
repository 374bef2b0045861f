"""The chance part of a best-of-n similarity (app.core.chance)."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.chance import chance_gain, chance_slope, expected_max


def test_expected_max_grows_with_the_number_of_draws() -> None:
    assert expected_max(1) == 0.0
    values = [expected_max(n) for n in (2, 4, 16, 64)]
    assert values == sorted(values) and values[0] > 0
    draws = np.random.default_rng(0).normal(size=(20000, 16)).max(axis=1).mean()
    assert expected_max(16) == pytest.approx(draws, abs=0.03)


def test_slope_ignores_the_common_offset_and_outliers() -> None:
    rng = np.random.default_rng(1)
    e = np.array([expected_max(int(n)) for n in rng.integers(1, 80, size=300)], np.float32)
    gain = (-0.2 + 0.05 * e)[:, None] + 0.005 * rng.normal(size=(300, 2))
    gain[:10] += 0.5  # a few real matches far above chance
    assert chance_slope(e, gain.astype(np.float32)) == pytest.approx([0.05, 0.05], abs=0.005)
    assert np.all(chance_slope(e, -gain.astype(np.float32)) == 0)  # never a bonus for length
    assert np.all(chance_slope(np.full(5, 1.2, np.float32), gain[:5]) == 0)  # one length: no slope


def test_an_identical_segment_keeps_its_cosine() -> None:
    rng = np.random.default_rng(2)
    chances = rng.integers(1, 60, size=100)
    e = np.array([expected_max(int(n)) for n in chances], np.float32)
    track = rng.uniform(0.2, 0.6, size=(100, 4)).astype(np.float32)
    best = np.minimum(track + 0.04 * e[:, None], 1.0)
    best[0] = 1.0  # the query's own passage
    gain = chance_gain(best, track, chances)
    assert np.all(gain[0] == 0)
    long = chances > 30
    long[0] = False
    assert np.all(gain[long] > 0) and np.all(gain[chances == 1] == 0)
