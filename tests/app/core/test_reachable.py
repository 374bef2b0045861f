"""Which rows a slider setting can make candidates: the band is exact and holds every setting's."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.core.reachable import EPS, _grid_dominators, band, one_slider_moved, plan, top_rows


def _run(steps):
    """A generator's return value (``band`` yields between steps)."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return done.value


def _cosines(n: int, seed: int, correlated: bool = False, ties: bool = False) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.normal(0.1, 0.2, size=(n, 4))
    if correlated:
        x = 0.7 * x[:, :1] + 0.3 * x
    if ties:
        x = np.round(x, 1)  # many equal values in a dimension
    return x.astype(np.float32)


def _dominators(x: np.ndarray, eps: float = EPS) -> np.ndarray:
    """How many rows beat each row by more than ``eps`` in every dimension (direct count)."""
    return np.array([int((x > row + np.float32(eps)).all(axis=1).sum()) for row in x])


@pytest.mark.parametrize(("seed", "correlated", "ties"), [(0, False, False), (1, True, False), (2, False, True)])
def test_band_is_the_rows_fewer_than_n_rows_beat_in_every_dimension(seed, correlated, ties) -> None:
    x = _cosines(1500, seed, correlated, ties)
    for n in (1, 7, 40):
        rows = _run(band(x, n))
        assert set(rows.tolist()) == set(np.flatnonzero(_dominators(x) < n).tolist())
        sums = x[rows].astype(np.float64).sum(axis=1)
        assert np.all(np.diff(sums) <= 0)  # by decreasing sum


def test_grid_bound_never_counts_more_than_the_true_dominators() -> None:
    x = _cosines(3000, 3, ties=True)
    bound = _run(_grid_dominators(x, EPS))
    truth = _dominators(x)
    assert np.all(bound <= truth) and bound.sum() > truth.sum() // 4  # a bound, and not a useless one


def test_every_slider_settings_candidates_are_in_the_band() -> None:
    x = _cosines(4000, 4)
    n = 25
    rows = set(_run(band(x, n)).tolist())
    scale = np.array([1.0, 0.98, 1.01, 0.97], np.float32)
    rng = np.random.default_rng(5)
    settings = [np.array(s) / 100 for s in itertools.product((0, 1, 5, 50, 100), repeat=4) if any(s)]
    settings += [rng.integers(0, 101, 4) / 100 for _ in range(300)]
    union: set[int] = set()
    for w in settings:
        if not np.any(w):
            continue
        v = (np.asarray(w, np.float32) / scale).astype(np.float32)
        scores = x @ v  # as search.py ranks candidates
        top = np.argpartition(-scores, n - 1)[:n]
        union |= set(top.tolist())
    assert union <= rows


def test_a_band_of_fewer_rows_than_n_is_every_row() -> None:
    x = _cosines(10, 6)
    assert sorted(_run(band(x, 10)).tolist()) == list(range(10))


def test_plan_gives_each_band_row_once_the_current_settings_candidates_first() -> None:
    x = _cosines(3000, 7)
    n, batch = 30, 8
    weights = np.array([0.5, 1.0, 0.2, 0.5])
    scale = np.ones(4, np.float32)
    parts = list(plan(x, n, lambda: weights, scale, batch))
    given = np.concatenate(parts)
    assert all(len(p) <= batch for p in parts)
    assert len(given) == len(set(given.tolist()))
    assert set(given.tolist()) == set(_run(band(x, n)).tolist())
    first = top_rows(x, weights.astype(np.float32), n)
    assert set(given[:n].tolist()) == set(first.tolist())


def test_plan_follows_the_sliders_while_it_runs() -> None:
    x = _cosines(3000, 8)
    n, batch = 30, 5
    sliders = [np.array([0.5, 0.5, 0.5, 0.5])]
    steps = plan(x, n, lambda: sliders[-1], np.ones(4, np.float32), batch)
    given: set[int] = set()
    for _ in range(4):
        given |= set(next(steps).tolist())
    sliders.append(np.array([0.05, 0.5, 1.0, 0.5]))  # two sliders jump
    jump = set(top_rows(x, sliders[-1].astype(np.float32), n).tolist())
    more = 0
    while not jump <= given:
        given |= set(next(steps).tolist())
        more += 1
    assert more <= 2 + n // batch + 1  # the rest of the setting it was on, then the new one's


def test_one_slider_moved_keeps_the_others_in_slider_units() -> None:
    moved = one_slider_moved(np.array([0.5, 0.5, 1.0, 0.5]))
    assert all(np.count_nonzero(s != [0.5, 0.5, 1.0, 0.5]) <= 1 and s.any() for s in moved)
    assert len(moved) == 24
    assert all(s.max() <= 1.0 for s in one_slider_moved(np.array([2.0, 1.0, 4.0, 0.0])))  # scaled to 0..1


def test_plan_yields_after_every_setting_even_one_with_nothing_new(monkeypatch) -> None:
    """A step is at most one setting's product (a step may run on the GUI thread): settings
    whose candidates were all given already (most of them when the dimensions agree) are
    steps too, not run back to back until one has something new."""
    import app.core.reachable as reachable

    x = _cosines(3000, 9, correlated=True)
    products = [0]
    top = reachable.top_rows
    monkeypatch.setattr(reachable, "top_rows", lambda *a: products.__setitem__(0, products[0] + 1) or top(*a))
    between = []
    for _ in plan(x, 30, lambda: np.ones(4), np.ones(4, np.float32), 8):
        between.append(products[0])
        products[0] = 0
    assert max(between) <= 1
