"""A library that only grew between two loads keeps its approximate index and adds the new
tracks to it (building the IVF takes minutes at 1M tracks); any other change rebuilds it."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np

from app.core import vector_index
from app.core.catalog import Catalog
from app.core.library import Library
from app.core.vector_index import VectorIndex
from tests.app.core.test_vector_cache import MODEL, _record

N = 40  # above flat_limit=10: the approximate index (16 lists)


def _found(library: Library, path: str) -> bool:
    """Whether the track at ``path`` is among the index's candidates for its own vector."""
    engine = library.engine
    row = engine.table.paths.index(path)
    query = engine.table.vectors[row].astype(np.float32)
    rows, _ = engine.index.candidates(query, np.ones(4, np.float32), 5)
    return row in rows.tolist()


def test_index_is_extended_when_the_library_only_grew(tmp_path, monkeypatch) -> None:
    builds = []
    build = vector_index._build_ivf
    monkeypatch.setattr(vector_index, "_build_ivf", lambda *a: builds.append(1) or build(*a))
    encoder = SimpleNamespace(model_id=MODEL, info=SimpleNamespace(tags=None))
    with Catalog.open(tmp_path / "lib.db") as catalog:
        catalog.write_batch([_record(f"/m/{i:02d}.wav", i) for i in range(N)])
        library = Library(catalog, encoder, flat_limit=10)  # type: ignore[arg-type]
        assert len(library) == N and len(builds) == 1
        engine = library.engine
        assert library.reload() == (0, 0)
        assert library.engine is engine  # nothing new: the same engine
        catalog.write_batch([_record("/new/a.wav", 100), _record("/new/b.wav", 101)])
        assert library.reload() == (2, 0)  # (added, dropped)
        assert len(library) == N + 2 and len(builds) == 1 and _found(library, "/new/b.wav")
        restarted = Library(catalog, encoder, flat_limit=10)  # type: ignore[arg-type]
        assert len(restarted) == N + 2 and len(builds) == 1  # the file's IVF, extended
        assert _found(restarted, "/new/a.wav")
        catalog.write_batch([_record("/m/03.wav", 103)])  # re-embedded: a row in the middle changed
        catalog.remove_paths(["/new/a.wav"])
        assert library.reload() == (0, 1)
        assert len(builds) == 2 and _found(library, "/m/03.wav")


def test_an_index_grown_past_twice_its_size_is_rebuilt(tmp_path) -> None:
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(2000, 256)).astype(np.float16)
    first = VectorIndex(vectors[:600], flat_limit=10, nlist=16, cache_path=tmp_path / "c")
    grown = VectorIndex(vectors[:1200], flat_limit=10, previous=first)
    assert grown._ivf.nlist == 16 and grown._ivf.ntotal == 1200 and grown.trained_on == 600
    assert VectorIndex(vectors[:1300], flat_limit=10, previous=grown)._ivf.nlist != 16  # 1300 > 2 x 600
    assert VectorIndex(vectors[:1100], flat_limit=10, cache_path=tmp_path / "c")._ivf.nlist == 16  # file: 600
    assert VectorIndex(vectors[:1300], flat_limit=10, cache_path=tmp_path / "c")._ivf.nlist != 16
