"""Which tracks a slider move can bring into a search's candidates, and in what order to
prepare them (``SearchEngine.prepare_moves`` in app.core.moves).

At slider weights ``w`` the candidates are the ``n`` best rows by ``cosines @ v``, where
``cosines`` are the rows' ``(N, 4)`` track-level cosines with the query and ``v = w / scale``
(search.py, step 1; ``scale > 0``, so ``v >= 0`` like ``w``). A row ``s`` outscores a row ``r``
at every setting of the sliders only if it is higher in every dimension, since one slider
alone is a setting; and if it is, it outscores ``r`` at every setting. So a row that ``n``
others beat in every dimension is a candidate at no setting, and every other row (the
"``n``-skyband") is all that any setting can bring in (``band``). With a margin ``EPS``:
a float32 score is exact to about 1e-7 of the weights' sum, so a row beaten by more than
``EPS`` in every dimension is beaten in float32 too, whatever the rounding.

``band`` counts, for the rows in decreasing order of their sum (a row's dominators have a
larger sum), their dominators among the rows kept so far; a row that ``n`` others dominate
is dominated by ``n`` rows of the band (a dominator outside it has ``n`` dominators of its
own, which dominate the row too), so counting against the band is exact. A coarse grid
first drops the rows that ``n`` rows of strictly higher cells dominate (most of them).
On 100 000 synthetic tracks whose four cosines are independent (the worst case: real
music's dimensions agree, and its band is smaller) ``n = 200`` keeps 13 090 rows in 0.5 s.

``plan`` orders the work: first the candidates of settings near the sliders (each slider
alone moved to a few values, from wherever the sliders are while it runs, and a coarse grid
of all four, the nearest first), which hold what the next moves need; then the rest of the
band.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Generator, Iterator

import numpy as np

EPS = 1e-5  # cosine margin of "higher in every dimension" (see the module doc)
GRID = 24  # cells per dimension of band's first pass (quantiles of each dimension)
BLOCK = 128  # rows per step of band's exact pass (a few ms against 13 000 kept rows)
NEAR_VALUES = (0.05, 0.25, 0.5, 0.75, 1.0, 0.0)  # one slider moved to these, the others kept
GRID_VALUES = (0.05, 0.5, 1.0)  # then every combination of these


def top_rows(cosines: np.ndarray, v: np.ndarray, n: int) -> np.ndarray:
    """The ``n`` best rows by ``cosines @ v``, best first (all rows when there are no more)."""
    scores = cosines @ np.asarray(v, dtype=np.float32)
    top = np.arange(len(scores)) if len(scores) <= n else np.argpartition(-scores, n - 1)[:n]
    return top[np.argsort(-scores[top], kind="stable")]


def band(cosines: np.ndarray, n: int, eps: float = EPS) -> Generator[None, None, np.ndarray]:
    """The rows (indices, by decreasing sum) that fewer than ``n`` rows beat by more than
    ``eps`` in every dimension. A generator: it yields between steps of a few milliseconds
    (100 000 rows; it may run in slices on the GUI thread), and returns the rows."""
    x = np.asarray(cosines, dtype=np.float32)
    if len(x) <= n:
        return np.argsort(-x.astype(np.float64).sum(axis=1), kind="stable")
    bound = yield from _grid_dominators(x, eps)
    rows = np.flatnonzero(bound < n)
    yield
    rows = rows[np.argsort(-x[rows].astype(np.float64).sum(axis=1), kind="stable")]
    xs = x[rows]
    kept = np.empty_like(xs)
    count = 0
    keep = np.zeros(len(rows), dtype=bool)
    for first in range(0, len(rows), BLOCK):
        yield
        block = xs[first : first + BLOCK]
        # earlier rows of the band, and the whole block (a dominator in it precedes the row)
        against = np.concatenate([kept[:count], block])
        higher = block + eps
        beaten = against[:, None, 0] > higher[None, :, 0]
        for d in range(1, x.shape[1]):
            beaten &= against[:, None, d] > higher[None, :, d]
        ok = beaten.sum(axis=0) < n
        keep[first : first + BLOCK] = ok
        kept[count : count + int(ok.sum())] = block[ok]
        count += int(ok.sum())
    return rows[keep]


def _grid_dominators(x: np.ndarray, eps: float) -> Generator[None, None, np.ndarray]:
    """Per row, a lower bound of how many rows beat it by more than ``eps`` in every dimension:
    the rows in cells above the one of ``row + eps`` in every dimension (a generator, as ``band``)."""
    dims = x.shape[1]
    edges, cells, above = [], [], []
    for d in range(dims):
        # any edges give a true bound; quantiles (of every 8th row: a few ms) make it tight
        edges.append(np.unique(np.quantile(x[::8, d], np.linspace(0, 1, GRID + 1)[1:-1])))
        cells.append(np.searchsorted(edges[d], x[:, d], side="right"))
        yield
        above.append(np.searchsorted(edges[d], x[:, d] + eps, side="right") + 1)
        yield
    shape = tuple(len(e) + 2 for e in edges)  # one empty cell on top
    counts = np.bincount(np.ravel_multi_index(tuple(cells), shape), minlength=int(np.prod(shape)))
    counts = counts.astype(np.int32).reshape(shape)
    for d in range(dims):  # counts[c] = rows in cells >= c in every dimension
        yield
        counts = np.flip(np.cumsum(np.flip(counts, d), axis=d, dtype=np.int32), d)
    yield
    return counts[tuple(above)]


def _slider_units(weights: np.ndarray) -> np.ndarray:
    w = np.asarray(weights, dtype=np.float64)
    return w / max(1.0, float(w.max()))  # the GUI's are 0 to 1; larger ones scaled down to that


def one_slider_moved(weights: np.ndarray) -> list[np.ndarray]:
    """``weights`` (slider units, see ``_slider_units``) with one slider moved to each of ``NEAR_VALUES``."""
    w = _slider_units(weights)
    out = []
    for d, value in itertools.product(range(len(w)), NEAR_VALUES):
        moved = w.copy()
        moved[d] = value
        out.append(moved)
    return [s for s in out if s.any()]


def plan(
    cosines: np.ndarray, n: int, weights: Callable[[], np.ndarray], scale: np.ndarray, batch: int
) -> Iterator[np.ndarray]:
    """Every row of ``band(cosines, n)``, in batches of at most ``batch`` indices: first the
    candidates (``v = setting / scale``, best first) of settings near the sliders, then the rest
    by decreasing sum. The settings: ``one_slider_moved`` from each position the sliders take
    while it runs (``weights()``: the current ones) and every combination of ``GRID_VALUES``,
    the nearest to the sliders' position first. Empty batches mark steps (a consumer can stop
    there): a setting with no new rows, a part of the band's computation."""
    x = np.asarray(cosines, dtype=np.float32)
    done = np.zeros(len(x), dtype=bool)
    pending: list[np.ndarray] = []  # rows not yet given, in order (a setting adds a few)

    def fresh(rows: np.ndarray, last: bool = False) -> Iterator[np.ndarray]:
        rows = rows[~done[rows]]
        done[rows] = True
        pending.append(rows)
        queued = np.concatenate(pending)
        whole = len(queued) if last else len(queued) // batch * batch
        for first in range(0, whole, batch):
            yield queued[first : first + batch]
        pending[:] = [queued[whole:]]

    settings = [np.array(combo) for combo in itertools.product(GRID_VALUES, repeat=x.shape[1])]
    seen: list[np.ndarray] = []
    while settings:
        now = _slider_units(weights())
        if not any(np.array_equal(now, s) for s in seen):  # the sliders moved: their neighbours next
            seen.append(now)
            settings.extend(one_slider_moved(now))
        nearest = int(np.argmin([np.abs(s - now).sum() for s in settings]))
        setting = settings.pop(nearest)
        given = False
        for part in fresh(top_rows(x, (setting / scale).astype(np.float32), n)):
            given = True
            yield part
        if not given:  # nothing new (settings share most candidates): still a step, one product long
            yield np.zeros(0, dtype=np.int64)
    steps = band(x, n)
    while True:
        try:
            next(steps)
        except StopIteration as finished:
            rows = finished.value
            break
        yield np.zeros(0, dtype=np.int64)
    yield from fresh(rows, last=True)
