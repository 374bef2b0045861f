"""``Library.prepare_moves`` prepares for the searches ``Library.search`` runs: the same filters
(the query's own files left out) and the same number of candidates (more with diversity)."""

from __future__ import annotations

import itertools
from types import SimpleNamespace

import numpy as np
import pytest

from app.core.catalog import Catalog
from app.core.library import Library
from app.core.moves import PREPARE_BATCH
from app.core.query import query_from_windows
from app.core.types import SearchFilters
from tests.app.core.test_vector_cache import MODEL, _record


@pytest.mark.parametrize("max_per_group", [None, 1])
def test_moves_are_prepared_for_the_searches_the_library_runs(tmp_path, max_per_group) -> None:
    encoder = SimpleNamespace(model_id=MODEL, info=SimpleNamespace(tags=None))
    with Catalog.open(tmp_path / "lib.db") as catalog:
        catalog.write_batch([_record(f"/m/{i:02d}.wav", i) for i in range(60)])
        library = Library(catalog, encoder, candidates=2)  # type: ignore[arg-type]
        engine = library.engine
        calls: dict[str, list] = {"search": [], "prepare_moves": []}
        for name in calls:
            method = getattr(engine, name)

            def spy(query, weights, k, filters, *rest, _method=method, _name=name):  # noqa: ANN001, ANN202
                calls[_name].append((k, filters))
                return _method(query, weights, k, filters, *rest)

            setattr(engine, name, spy)
        reads: list[int] = []
        windows = engine._windows
        engine._windows = lambda ids: reads.extend(ids) or windows(ids)
        own = catalog.window_vectors([catalog.find_track("/m/07.wav").track_id], MODEL).popitem()[1]
        query = query_from_windows(own.astype(np.float32), "/m/07.wav")  # a library track: left out
        filters = SearchFilters(max_per_group=max_per_group)
        library.search(query, (1, 1, 1, 1), k=3, filters=filters)
        assert list(library.prepare_moves(query, (1, 1, 1, 1), k=3, filters=filters))
        assert calls["prepare_moves"] == calls["search"]  # the same k and filters reach the engine
        assert "/m/07.wav" in calls["search"][0][1].exclude_paths
        before = len(reads)
        for w in itertools.product((0, 0.05, 0.5, 1), repeat=4):
            if any(w):
                library.search(query, w, k=3, filters=filters)
        assert len(reads) == before  # every move's candidates were prepared


def test_prepared_rows_stay_within_the_limit_across_filter_changes(tmp_path) -> None:
    """Each new filter set prepares more rows for the same query; together they stay within
    ``limit`` (plus the last batch), the memory bound the docstring promises."""
    encoder = SimpleNamespace(model_id=MODEL, info=SimpleNamespace(tags=None))
    with Catalog.open(tmp_path / "lib.db") as catalog:
        catalog.write_batch([_record(f"/m/{i:03d}.wav", i, bpm=60 + i) for i in range(300)])
        engine = Library(catalog, encoder, candidates=5).engine  # type: ignore[arg-type]
        own = catalog.window_vectors([catalog.find_track("/m/007.wav").track_id], MODEL).popitem()[1]
        query = query_from_windows(own.astype(np.float32), "/m/007.wav")
        held = []
        for lowest in (60, 120, 180, 240):
            filters = SearchFilters(bpm_min=lowest)
            engine.search(query, (1, 1, 1, 1), 3, filters)
            list(engine.prepare_moves(query, (1, 1, 1, 1), 3, filters, limit=20))
            held.append(len(engine._states[id(query)][1].prepared))
        assert held[0] > 0 and max(held) <= 20 + PREPARE_BATCH, held  # at most one batch past the limit
