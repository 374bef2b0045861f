"""Weighted, segment-aware search over vectors written to a real catalog (no encoder needed).

Vectors are random but block-normalised, as the encoder's are; the properties tested are
exact algebra (a zero weight removes a dimension, offsets of a cut-out query), so random
vectors are the sharpest check.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from app.core.catalog import Catalog, TrackRecord
from app.core.query import SearchError, combine_queries, mix_queries, query_from_windows
from app.core.search import SearchEngine
from app.core.segments import segment_cosines
from app.core.types import DIMENSIONS, SearchFilters, SearchWeights
from model.dimensions import BLOCK_SIZE, normalize_blocks

MODEL = "testmodel0000000"
WINDOW_S = 65536 / 22050


def _windows(rng: np.random.Generator, n: int) -> np.ndarray:
    return normalize_blocks(rng.normal(size=(n, 256)).astype(np.float32))


@pytest.fixture()
def library(tmp_path):
    """A catalog of 60 tracks (1..24 windows each), with BPM, duration and album tags."""
    rng = np.random.default_rng(7)
    catalog = Catalog.open(tmp_path / "lib.db")
    records = []
    for i in range(60):
        windows = _windows(rng, int(rng.integers(1, 25)))
        tags = {"album": f"album{i % 5}", "bpm": 60.0 + 2 * i, "title": f"t{i}"}
        records.append(
            TrackRecord(f"/music/t{i:02d}.wav", 1000 + i, i, windows.shape[0] * WINDOW_S, tags,
                        MODEL, track=normalize_blocks(windows.mean(0)), windows=windows)
        )
    catalog.write_batch(records)
    yield catalog
    catalog.close()


class CountingWindows:
    """The catalog's window loader, counting how many tracks it was asked for."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self.requested = 0

    def __call__(self, ids):
        self.requested += len(ids)
        return self.catalog.window_vectors(ids, MODEL)


def _engine(catalog: Catalog, **options) -> tuple[SearchEngine, CountingWindows]:
    """An engine scoring by segments alone (``track_weight`` 0, no chance correction), unless
    told otherwise.

    The algebra below is the segment score's; the blend with track evidence and the chance
    correction are tested in test_length_bias.py.
    """
    options.setdefault("track_weight", 0.0)
    options.setdefault("chance_correction", False)
    source = CountingWindows(catalog)
    table = catalog.load_track_vectors(MODEL)
    return SearchEngine(table, source, catalog.get_tracks, **options), source


def _windows_of(catalog: Catalog, path: str) -> np.ndarray:
    info = catalog.find_track(path)
    return catalog.window_vectors([info.track_id], MODEL)[info.track_id].astype(np.float32)


def test_query_cut_from_a_track_finds_it_at_that_offset(library) -> None:
    engine, _ = _engine(library)
    source = max(library.tracks(), key=lambda t: t.duration_s)
    windows = _windows_of(library, source.path)
    query = query_from_windows(windows[5:9])
    best = engine.search(query, SearchWeights(), k=3)[0]
    assert best.track.path == source.path
    assert best.offset_s == pytest.approx(5 * WINDOW_S)
    assert best.score == pytest.approx(1.0, abs=1e-2)  # identical in all four dimensions
    assert best.score_raw == pytest.approx(4.0, abs=1e-2)  # cos 1, summed over the weights
    assert all(v == pytest.approx(1.0, abs=3e-3) for v in best.dimensions.values())
    assert all(v == pytest.approx(1.0, abs=3e-3) for v in best.raw.values())


def test_zero_weight_removes_a_dimension_exactly(library, tmp_path) -> None:
    """Replacing every track's instrument block changes nothing when its weight is 0."""
    engine, _ = _engine(library)
    query = query_from_windows(_windows_of(library, "/music/t03.wav")[:2])
    weights = SearchWeights(genre=1.0, mood=0.5, instrument=0.0, tempo=2.0)
    before = engine.search(query, weights, k=20)

    rng = np.random.default_rng(99)
    other = Catalog.open(tmp_path / "other.db")
    inst = slice(2 * BLOCK_SIZE, 3 * BLOCK_SIZE)
    records = []
    table = library.load_track_vectors(MODEL)
    vectors = dict(zip(table.paths, table.vectors, strict=True))
    for info in library.tracks():
        windows = _windows_of(library, info.path)
        windows[:, inst] = _windows(rng, windows.shape[0])[:, inst]
        track = vectors[info.path].copy()  # the other blocks exactly as they were
        track[inst] = normalize_blocks(windows.mean(0))[inst]
        records.append(TrackRecord(info.path, 1, 1, info.duration_s, {}, MODEL, track=track, windows=windows))
    other.write_batch(records)
    after = _engine(other)[0].search(query, weights, k=20)
    assert [r.track.path for r in after] == [r.track.path for r in before]
    assert [r.score for r in after] == pytest.approx([r.score for r in before], abs=1e-6)
    assert [r.offset_s for r in after] == [r.offset_s for r in before]
    other.close()


def test_genre_only_weights_rank_by_the_genre_block_alone(library) -> None:
    engine, _ = _engine(library)
    query_windows = _windows_of(library, "/music/t10.wav")[:1]  # one window: span of 1
    results = engine.search(query_from_windows(query_windows), SearchWeights(1, 0, 0, 0), k=60)
    # Independent reference: best single-window genre cosine of each track.
    q = query_windows[0, :BLOCK_SIZE]
    expected = {}
    for info in library.tracks():
        w = _windows_of(library, info.path)[:, :BLOCK_SIZE]
        expected[info.path] = float(np.max(w @ q / np.linalg.norm(w, axis=1) / np.linalg.norm(q)))
    ranked = sorted(expected, key=lambda p: -expected[p])
    assert [r.track.path for r in results] == ranked
    assert [r.raw["genre"] for r in results] == pytest.approx([expected[p] for p in ranked], abs=1e-5)
    assert all(r.score == pytest.approx(r.dimensions["genre"]) for r in results)


def test_score_is_the_weighted_mean_of_the_reported_dimensions(library) -> None:
    engine, _ = _engine(library)
    query = query_from_windows(_windows_of(library, "/music/t20.wav")[2:5])
    weights = SearchWeights(0.3, 1.0, 0.7, 0.1)
    pairs = list(zip(weights.as_tuple(), DIMENSIONS, strict=True))
    for r in engine.search(query, weights, k=10):
        expected = sum(w * r.dimensions[d] for w, d in pairs) / sum(weights.as_tuple())
        assert r.score == pytest.approx(expected, abs=1e-5)
        assert r.score_raw == pytest.approx(sum(w * r.raw[d] for w, d in pairs), abs=1e-5)
        assert all(0.0 <= r.dimensions[d] <= 1.0 for d in DIMENSIONS)
        assert set(r.to_json()["dimensions"]) == set(r.to_json()["dimensions_raw"]) == set(DIMENSIONS)


def test_a_query_with_phases_reads_each_candidates_windows_once(library) -> None:
    """Candidates new to a search are read once for their segments and their alignment."""
    engine, source = _engine(library, candidates=20)
    windows = _windows_of(library, "/music/t01.wav")
    phased = query_from_windows(windows[:3], phases=[windows[:3], windows[1:3]])
    engine.search(phased, SearchWeights(), k=10)  # the 20 candidates are all aligned (RERANK_MIN 30)
    assert source.requested == 60 + 20  # the calibration sample, then each candidate once
    engine.search(phased, (1, 0, 0, 0), k=10)
    engine.search(phased, (0, 0.1, 0, 1), k=10)
    assert source.requested - 80 == len(engine._states[id(phased)][1].segments) - 20


def test_slider_moves_reuse_the_query_and_loaded_windows(library) -> None:
    engine, source = _engine(library)
    query = query_from_windows(_windows_of(library, "/music/t01.wav")[:3])
    engine.search(query, SearchWeights(), k=10)
    first = source.requested
    assert first == 60 + 60  # the calibration sample (all 60), then every track as a candidate
    other = query_from_windows(_windows_of(library, "/music/t02.wav")[:3])
    engine.search(other, SearchWeights(), k=10)
    assert source.requested == first + 60  # a new query reads candidates, not the sample again
    first = source.requested
    for w in [(1, 0, 0, 0), (0, 0, 0, 1), (0.2, 0.9, 0.1, 0.5)]:
        engine.search(query, w, k=10)
    assert source.requested == first  # re-ranks touched neither the index nor the catalog


def test_filters(library) -> None:
    engine, _ = _engine(library)
    query = query_from_windows(_windows_of(library, "/music/t00.wav")[:2])
    filters = SearchFilters(bpm_min=80, bpm_max=120, duration_min_s=10.0,
                            exclude_paths=frozenset({"/music/t15.wav"}),
                            exclude_albums=frozenset({"album1"}))
    results = engine.search(query, SearchWeights(), k=60, filters=filters)
    assert results
    for r in results:
        assert 80 <= r.track.bpm <= 120
        assert r.track.duration_s >= 10.0
        assert r.track.album != "album1"
        assert r.track.path != "/music/t15.wav"
    expected = [t for t in library.tracks() if 80 <= t.bpm <= 120 and t.duration_s >= 10.0
                and t.album != "album1" and t.path != "/music/t15.wav"]
    assert len(results) == len(expected)


def test_mix_and_match_takes_each_dimension_from_its_reference(library) -> None:
    engine, _ = _engine(library)
    a = query_from_windows(_windows_of(library, "/music/t04.wav"), "/q/a.wav")
    b = query_from_windows(_windows_of(library, "/music/t31.wav"), "/q/b.wav")
    mixed = mix_queries(a, {"tempo": b})
    assert np.array_equal(mixed.vector[:3 * BLOCK_SIZE], a.vector[:3 * BLOCK_SIZE])
    assert np.array_equal(mixed.vector[3 * BLOCK_SIZE:], b.vector[3 * BLOCK_SIZE:])
    assert mixed.sources["tempo"] == "/q/b.wav" and mixed.sources["genre"] == "/q/a.wav"
    assert engine.search(mixed, SearchWeights(0, 0, 0, 1), k=1)[0].track.path == "/music/t31.wav"
    assert engine.search(mixed, SearchWeights(1, 0, 0, 0), k=1)[0].track.path == "/music/t04.wav"
    with pytest.raises(SearchError):
        mix_queries(a, {"loudness": b})


def test_multi_query_combines_clips(library) -> None:
    engine, _ = _engine(library)
    a = query_from_windows(_windows_of(library, "/music/t07.wav"), "/q/a.wav")
    b = query_from_windows(_windows_of(library, "/music/t08.wav"), "/q/b.wav")
    both = combine_queries([a, b])
    assert both.paths == ("/q/a.wav", "/q/b.wav")
    top2 = {r.track.path for r in engine.search(both, SearchWeights(), k=2)}
    assert top2 == {"/music/t07.wav", "/music/t08.wav"}


def test_bad_weights_and_empty_library_are_errors(library, tmp_path) -> None:
    engine, _ = _engine(library)
    query = query_from_windows(_windows_of(library, "/music/t00.wav"))
    with pytest.raises(SearchError, match="all weights are zero"):
        engine.search(query, (0, 0, 0, 0))
    with pytest.raises(SearchError):
        engine.search(query, (1, -1, 0, 0))
    empty = Catalog.open(tmp_path / "empty.db")
    with pytest.raises(SearchError, match="no indexed tracks"):
        _engine(empty)[0].search(query, SearchWeights())
    empty.close()


def test_segment_spans_longer_than_a_track_compare_it_whole() -> None:
    rng = np.random.default_rng(3)
    track = _windows(rng, 2)
    query = query_from_windows(np.concatenate([track, _windows(rng, 3)]))
    (cos,) = segment_cosines(query, [track])
    assert cos.shape == (1, 4)  # one offset: the whole track


def test_approximate_index_recall_against_exact() -> None:
    """Above flat_limit the IVF path finds (almost) the exact top 10 on clustered data."""
    from app.core.catalog import TrackTable

    rng = np.random.default_rng(0)
    n = 6000
    centers = normalize_blocks(rng.normal(size=(40, 256)))
    vectors = normalize_blocks(centers[rng.integers(0, 40, n)] + 0.35 * rng.normal(size=(n, 256)) / 8)
    windows = {i: vectors[i : i + 1].astype(np.float16) for i in range(n)}

    table = TrackTable(np.arange(n), vectors.astype(np.float16), np.ones(n, np.int32),
                       np.full(n, 60, np.float32), np.full(n, np.nan, np.float32),
                       [f"/t{i}" for i in range(n)], [""] * n)
    def source(ids):
        return {i: windows[i] for i in ids}

    exact = SearchEngine(table, source, lambda ids: {}, flat_limit=10**9, candidates=10)
    approx = SearchEngine(table, source, lambda ids: {}, flat_limit=1000, candidates=10)
    assert exact.index.exact and not approx.index.exact
    hits = 0
    for trial in range(20):
        query = query_from_windows(normalize_blocks(rng.normal(size=(1, 256)) * 0.2 + vectors[trial * 97]))
        approx.search(query, rng.uniform(0, 1, 4), k=10)  # candidates gathered for other weights
        w = rng.uniform(0, 1, 4)  # then a slider moves
        truth = {r.track.path for r in exact.search(query, w, k=10)}
        hits += len(truth & {r.track.path for r in approx.search(query, w, k=10)})
    assert hits / 200 >= 0.95


def test_segment_cosines_match_a_direct_computation() -> None:
    """Spans per dimension (mix-and-match), tracks shorter than a span, clamped offsets."""
    from app.core.query import Query

    rng = np.random.default_rng(5)
    tracks = [_windows(rng, n).astype(np.float16) for n in (1, 2, 5, 12, 30)]
    query = Query(normalize_blocks(rng.normal(size=256)), (3, 3, 7, 1))
    for w, got in zip(tracks, segment_cosines(query, tracks), strict=True):
        w = w.astype(np.float32)
        assert got.shape == (max(len(w) - 1, 0) + 1, 4)
        for o in range(got.shape[0]):
            for d, span in enumerate(query.spans):
                first = min(o, max(len(w) - span, 0))
                seg = w[first : first + span, d * BLOCK_SIZE : (d + 1) * BLOCK_SIZE].sum(0)
                qd = query.vector[d * BLOCK_SIZE : (d + 1) * BLOCK_SIZE]
                assert got[o, d] == pytest.approx(seg @ qd / np.linalg.norm(seg), abs=1e-4)


@pytest.mark.parametrize("m", [1, 2, 7, 10, 33])
def test_sliding_sum_in_blocks_is_the_whole_pass_exactly(monkeypatch, m) -> None:
    """Blocks of output rows (cache-sized) add the same numbers in the same order as one pass."""
    from app.core import segments

    x = np.random.default_rng(m).normal(size=(1300, 256)).astype(np.float32)
    whole = segments._sliding_sum_block(x, m)
    monkeypatch.setattr(segments, "_SLIDING_ROWS", 100)
    blocked = segments._sliding_sum(x, m)
    assert np.array_equal(blocked, whole)
    assert np.allclose(whole[[0, 17, len(whole) - 1]], [x[g : g + m].sum(0) for g in (0, 17, len(whole) - 1)], atol=1e-4)


def test_ivf_is_cached_on_disk_and_rebuilt_when_vectors_change(tmp_path, monkeypatch) -> None:
    from app.core import vector_index
    from app.core.vector_index import VectorIndex

    rng = np.random.default_rng(2)
    vectors = normalize_blocks(rng.normal(size=(3000, 256))).astype(np.float16)
    first = VectorIndex(vectors, flat_limit=100, cache_path=tmp_path / "lib.db.m")
    assert len(list(tmp_path.glob("lib.db.m.*.faiss"))) == 1

    def no_build(*args, **kwargs):
        raise AssertionError("the cached index should have been used")

    with monkeypatch.context() as patch:
        patch.setattr(vector_index, "_build_ivf", no_build)
        again = VectorIndex(vectors, flat_limit=100, cache_path=tmp_path / "lib.db.m")
    query = vectors[5].astype(np.float32)
    w = np.array([1, 0.5, 0.2, 1], np.float32)
    assert np.array_equal(first.candidates(query, w, 50)[0], again.candidates(query, w, 50)[0])
    changed = vectors.copy()
    changed[0] = changed[1]
    VectorIndex(changed, flat_limit=100, cache_path=tmp_path / "lib.db.m")
    assert len(list(tmp_path.glob("lib.db.m.*.faiss"))) == 1  # the stale file was replaced


def test_filter_mask_is_kept_for_the_same_filters_and_excludes_paths_either_way(library) -> None:
    """A slider move reuses the last mask (read-only, so no caller can spoil it); excluded paths
    are found by scanning for the first few look-ups and through a dict after."""
    engine, _ = _engine(library)
    paths = list(engine.table.paths)
    for i in range(15):  # look-ups 1-9 scan the list, 10 onwards use the dict
        filters = SearchFilters(bpm_min=70.0, exclude_paths=frozenset({paths[i], "/not/in/library.wav"}))
        mask = engine.filter_mask(filters)
        assert engine.filter_mask(SearchFilters(bpm_min=70.0, exclude_paths=frozenset(filters.exclude_paths))) is mask
        assert not mask.flags.writeable
        want = (engine.table.bpm >= 70.0) & (np.arange(len(paths)) != i)
        assert np.array_equal(mask, want)
    assert engine._filter._row_of_path is not None
    assert engine.filter_mask(SearchFilters()).all()


def test_re_ranks_read_details_only_of_tracks_not_shown_before(library) -> None:
    asked: list[int] = []

    def infos(ids):  # noqa: ANN001, ANN202
        asked.extend(ids)
        return library.get_tracks(ids)

    table = library.load_track_vectors(MODEL)
    engine = SearchEngine(table, CountingWindows(library), infos, track_weight=0.0, chance_correction=False)
    query = query_from_windows(_windows_of(library, "/music/t01.wav")[:3])
    shown: set[str] = set()
    for w in [(1, 1, 1, 1), (1, 1, 1, 1), (1, 0, 0, 0), (0, 0, 0, 1)]:
        results = engine.search(query, w, k=10)
        assert all(r.track.title for r in results)  # the catalog's details, not a bare path
        shown |= {r.track.path for r in results}
    assert len(asked) == len(set(asked)) == len(shown)


def _phased(catalog: Catalog, path: str):
    windows = _windows_of(catalog, path)
    return query_from_windows(windows[:3], path, phases=[windows[:3], windows[1:3]])


MOVES = [w for w in itertools.product((0, 0.05, 0.5, 1), repeat=4) if any(w)]  # sliders at their ends too


def test_prepared_moves_give_the_same_results_and_read_nothing_when_moved(library) -> None:
    """Every slider setting's results after prepare_moves are those of an engine that prepared
    nothing, and the moves read no windows and no details."""
    asked: list[int] = []

    def infos(ids):  # noqa: ANN001, ANN202
        asked.extend(ids)
        return library.get_tracks(ids)

    plain, _ = _engine(library, candidates=12, track_weight=0.5, chance_correction=True)
    source = CountingWindows(library)
    prepared = SearchEngine(library.load_track_vectors(MODEL), source, infos, candidates=12)
    query, start, k = _phased(library, "/music/t01.wav"), (0.5, 0.5, 0.5, 0.5), 6
    filters = SearchFilters(exclude_paths=frozenset({"/music/t01.wav"}))
    assert plain.search(query, start, k, filters) == prepared.search(query, start, k, filters)
    done = list(prepared.prepare_moves(query, start, k, filters))
    assert 12 < done[-1] < 59  # more than one setting's candidates, fewer than every track
    read, told = source.requested, len(asked)
    for w in MOVES:
        want = plain.search(query, w, k, filters)
        got = prepared.search(query, w, k, filters)
        assert got == want and [r.to_json() for r in got] == [r.to_json() for r in want]
    assert (source.requested, len(asked)) == (read, told)


def test_preparing_another_query_drops_what_was_prepared_for_the_first(library) -> None:
    engine, _ = _engine(library, candidates=12)
    a, b = _phased(library, "/music/t01.wav"), _phased(library, "/music/t02.wav")
    w = (1, 1, 1, 1)
    engine.search(a, w, 6)
    state = engine._states[id(a)][1]
    searched = (set(state.segments), set(state.phases), set(state.infos))
    first = engine.prepare_moves(a, w, 6, batch=2)
    while not state.prepared:  # the first batches are the candidates the search has already
        next(first)
    engine.search(b, w, 6)
    assert list(engine.prepare_moves(b, w, 6))[-1] > 12
    assert not state.prepared and (set(state.segments), set(state.phases), set(state.infos)) == searched
    list(first)  # it stops at its next batch, adding nothing
    assert not state.prepared and (set(state.segments), set(state.phases), set(state.infos)) == searched


def test_prepare_moves_keeps_to_its_limit_and_needs_a_search_first(library) -> None:
    engine, _ = _engine(library, candidates=12)
    query = _phased(library, "/music/t01.wav")
    assert list(engine.prepare_moves(query, (1, 1, 1, 1), 6)) == []  # never searched: nothing to prepare
    engine.search(query, (1, 1, 1, 1), 6)
    assert list(engine.prepare_moves(query, (1, 1, 1, 1), 6, batch=4, limit=8))[-1] == 8
    assert len(engine._states[id(query)][1].prepared) <= 8
