"""Auto-tags in search: tag words alone or with a clip, the instrumental filter, no head."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.auto_tags import TagQueryError
from app.core.catalog import Catalog, TrackRecord
from app.core.query import SearchError, query_from_windows
from app.core.search import SearchEngine
from app.core.types import SearchFilters, SearchWeights
from model.dimensions import normalize_blocks
from model.tags import TagModel

MODEL = "tagmodel00000000"
NAMES = ("instrumental", "piano", "rock")


def _head() -> TagModel:
    """Tag ``j`` is on when column ``j`` of the track vector is clearly positive."""
    w1 = np.eye(256, dtype=np.float32)
    w2 = np.zeros((3, 256), np.float32)
    w2[np.arange(3), np.arange(3)] = 40.0
    return TagModel(NAMES, ("vocal", "instrument", "genre"), np.full(3, 0.5, np.float32),
                    w1, np.zeros(256, np.float32), w2, np.full(3, -4.0, np.float32))


def _vector(rng: np.random.Generator, tags: tuple[int, ...]) -> np.ndarray:
    v = rng.normal(size=256).astype(np.float32) * 0.05
    v[:3] = -0.3
    for t in tags:
        v[t] = 0.5
    return normalize_blocks(v)


@pytest.fixture()
def engine(tmp_path):
    rng = np.random.default_rng(0)
    catalog = Catalog.open(tmp_path / "lib.db")
    plan = {"both": (0, 1), "piano": (1,), "instr": (0,), "rock": (2,), "none": ()}
    records = []
    for name, tags in plan.items():
        windows = np.stack([_vector(rng, tags) for _ in range(4)])
        records.append(TrackRecord(f"/m/{name}.wav", 1, 1, 12.0, {}, MODEL,
                                   track=normalize_blocks(windows.mean(0)), windows=windows))
    catalog.write_batch(records)
    table = catalog.load_track_vectors(MODEL)
    engine = SearchEngine(table, lambda ids: catalog.window_vectors(ids, MODEL), catalog.get_tracks, tags=_head())
    yield engine, catalog
    catalog.close()


def _names(results) -> list[str]:
    return [r.track.path.split("/")[-1][:-4] for r in results]


def test_tag_words_alone_rank_tracks_that_carry_all_of_them_first(engine) -> None:
    engine, _ = engine
    groups, unknown = engine.tags.parse("instrumental piano xyzzy")
    assert unknown == ["xyzzy"]
    results = engine.search(None, SearchWeights(), k=5, tag_groups=groups)
    assert _names(results)[0] == "both"
    assert set(_names(results)[1:3]) == {"piano", "instr"}
    assert results[0].score > results[1].score > results[-1].score
    assert set(results[0].tags) == {"instrumental", "piano"}
    assert results[-1].tags == ()


def test_instrumental_filter_and_clip_plus_tags(engine) -> None:
    engine, catalog = engine
    query = query_from_windows(catalog.window_vectors([catalog.find_track("/m/rock.wav").track_id], MODEL)[
        catalog.find_track("/m/rock.wav").track_id].astype(np.float32))
    kept = engine.search(query, SearchWeights(), k=5, filters=SearchFilters(instrumental=True))
    assert set(_names(kept)) == {"both", "instr"}
    plain = engine.search(query, SearchWeights(), k=5)
    assert _names(plain)[0] == "rock"  # the clip itself
    groups, _ = engine.tags.parse("piano")
    tagged = engine.search(query, SearchWeights(), k=5, tag_groups=groups)
    by_name = {n: r for n, r in zip(_names(tagged), tagged, strict=True)}
    clip_only = {n: r.score for n, r in zip(_names(plain), plain, strict=True)}
    match = engine.tags.match(groups)
    for name, r in by_name.items():  # the mean of clip similarity and tag match
        row = engine.table.paths.index(f"/m/{name}.wav")
        assert r.score == pytest.approx((clip_only[name] + match[row]) / 2, abs=1e-5)


def test_a_model_without_tag_head_says_so(tmp_path) -> None:
    catalog = Catalog.open(tmp_path / "lib.db")
    windows = normalize_blocks(np.random.default_rng(1).normal(size=(3, 256)).astype(np.float32))
    catalog.write_batch([TrackRecord("/m/a.wav", 1, 1, 9.0, {}, MODEL, track=normalize_blocks(windows.mean(0)),
                                     windows=windows)])
    engine = SearchEngine(catalog.load_track_vectors(MODEL), lambda ids: catalog.window_vectors(ids, MODEL),
                          catalog.get_tracks)
    query = query_from_windows(windows)
    assert engine.search(query, SearchWeights(), k=1)[0].tags == ()
    with pytest.raises(SearchError, match="auto-tags"):
        engine.search(query, SearchWeights(), k=1, filters=SearchFilters(instrumental=True))
    with pytest.raises(TagQueryError, match="auto-tags"):
        engine.tags.parse("piano")
    catalog.close()
