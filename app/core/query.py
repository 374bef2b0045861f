"""What a search looks for: a ``Query``, and the ways one is made from clips.

One clip (``query_from_windows``), several (``combine_queries``: multi-query) or a reference
per dimension (``mix_queries``: mix-and-match). The CLI, the library and the services make
and mix queries; only the engine (app.core.search) reads them. Building one needs numpy
only, so it lives apart from the engine and its index (faiss). ``SearchError`` is here too:
both a query that cannot be made and a search that cannot run raise it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from app.core.types import DIMENSIONS
from model.dimensions import BLOCK_SIZE, EMBEDDING_SIZE, N_DIMS, normalize_blocks


class SearchError(Exception):
    """A search that cannot run (empty library, zero weights); ``str(e)`` is one line."""


@dataclass(frozen=True, eq=False)
class Query:
    """A search reference: one vector, and how many windows each dimension's span covers.

    ``eq=False``: each Query is its own object, so the engine caches its work per query.
    """

    vector: np.ndarray  # (256,) float32, each block L2-normalised
    spans: tuple[int, ...]  # windows per dimension for segment matching (>= 1)
    paths: tuple[str, ...] = ()  # the clips it came from (to exclude them from results)
    padded: bool = False  # True when a clip was shorter than one window
    sources: dict[str, str] = field(default_factory=dict)  # dimension -> clip it came from
    # Window vectors of the clip at sub-window phases (app.core.alignment): they place the
    # reported offset precisely. Empty for combined queries (no single clip to align).
    phases: tuple[np.ndarray, ...] = ()
    # The clip's log band energies at quarter-frame shifts (app.core.refine.band_patterns,
    # (SUBFRAMES, frames, BANDS); one band_pattern also works): place a same-recording
    # result to the frame. None for combined and mixed queries.
    pattern: np.ndarray | None = None


def query_from_windows(
    windows: np.ndarray, path: str = "", padded: bool = False,
    phases: Sequence[np.ndarray] = (),
    pattern: np.ndarray | None = None,
) -> Query:
    windows = np.asarray(windows, dtype=np.float32).reshape(-1, EMBEDDING_SIZE)
    if windows.shape[0] == 0:
        raise SearchError("the query has no audio windows")
    vector = normalize_blocks(windows.mean(axis=0))
    paths = (path,) if path else ()
    return Query(
        vector, (windows.shape[0],) * N_DIMS, paths, padded, dict.fromkeys(DIMENSIONS, path),
        tuple(phases), pattern,
    )


def combine_queries(queries: Sequence[Query]) -> Query:
    """Multi-query: the mean of several clips' vectors (block re-normalised)."""
    if not queries:
        raise SearchError("no query clips")
    if len(queries) == 1:
        return queries[0]
    vector = normalize_blocks(np.mean([q.vector for q in queries], axis=0))
    spans = tuple(max(1, round(float(np.mean([q.spans[d] for q in queries])))) for d in range(N_DIMS))
    paths = tuple(dict.fromkeys(p for q in queries for p in q.paths))
    sources = {d: " + ".join(q.sources.get(d, "") for q in queries) for d in DIMENSIONS}
    return Query(vector, spans, paths, any(q.padded for q in queries), sources)


def mix_queries(base: Query, references: Mapping[str, Query]) -> Query:
    """Mix-and-match: dimension ``d`` takes its block (and span) from ``references[d]``."""
    vector = base.vector.copy()
    spans = list(base.spans)
    sources = dict(base.sources)
    for name, ref in references.items():
        if name not in DIMENSIONS:
            raise SearchError(f"unknown dimension {name!r}; use one of {', '.join(DIMENSIONS)}")
        d = DIMENSIONS.index(name)
        vector[d * BLOCK_SIZE : (d + 1) * BLOCK_SIZE] = ref.vector[d * BLOCK_SIZE : (d + 1) * BLOCK_SIZE]
        spans[d] = ref.spans[d]
        sources[name] = ref.sources.get(name, "")
    paths = tuple(dict.fromkeys([*base.paths, *(p for r in references.values() for p in r.paths)]))
    padded = base.padded or any(r.padded for r in references.values())
    # Phase windows are the base clip's in every dimension: a mix has no one clip to align.
    if references:
        return Query(vector, tuple(spans), paths, padded, sources)
    return Query(vector, tuple(spans), paths, padded, sources, base.phases, base.pattern)
