"""The local vector cache: same table as the catalog's, synced by the change counter,
rebuilt whenever it cannot be trusted, and the same search results as without it."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from app.core.catalog import Catalog, TrackRecord
from app.core.catalog_records import Relink
from app.core.query import query_from_windows
from app.core.search import SearchEngine
from app.core.vector_cache import cache_path, load_table
from model.dimensions import normalize_blocks

MODEL = "m1"


def _record(path: str, seed: int, model: str = MODEL, bpm: float = 120.0) -> TrackRecord:
    windows = normalize_blocks(np.random.default_rng(seed).normal(size=(4, 256)))
    return TrackRecord(path, 10, seed, 4 * 2.97, {"album": f"A{seed % 3}", "bpm": bpm}, model,
                       track=normalize_blocks(windows.mean(0)), windows=windows, fingerprint=f"f{seed}")


class Spy:
    """A catalog that records the ``since`` of each ``vector_changes`` call."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog, self.calls = catalog, []

    def vector_changes(self, model_id, since):  # noqa: ANN001, ANN201
        self.calls.append(since)
        return self.catalog.vector_changes(model_id, since)


def _assert_same(a, b) -> None:  # noqa: ANN001
    for name in ("ids", "vectors", "n_windows", "duration_s", "bpm"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    assert (a.paths, a.albums, a.fingerprints) == (b.paths, b.albums, b.fingerprints)


@pytest.fixture
def catalog(tmp_path):  # noqa: ANN201
    with Catalog.open(tmp_path / "lib.db") as catalog:
        catalog.write_batch([_record(f"/m/{i}.wav", i) for i in range(12)])
        yield catalog


def test_changes_since_a_counter_cover_every_write_path(catalog) -> None:
    start = catalog.vector_changes(MODEL, None)
    assert len(start.table) == start.total == 12 and start.counter > 0
    first, second = catalog.find_track("/m/0.wav"), catalog.find_track("/m/1.wav")
    catalog.set_status([first.track_id], "missing")
    catalog.relink([Relink(second.track_id, "/moved/1.wav", 10, 1, "f1")], [])
    catalog.remove_paths(["/m/2.wav"])
    catalog.write_batch([_record("/m/3.wav", 30, model="other"), _record("/new.wav", 99)])
    changes = catalog.vector_changes(MODEL, start.counter)
    assert changes.counter > start.counter and changes.catalog_id == start.catalog_id
    assert changes.table.paths == ["/moved/1.wav", "/new.wav"]
    removed = {catalog.find_track(p).track_id for p in ("/m/0.wav", "/m/3.wav")}
    assert set(changes.removed.tolist()) == removed | {start.table.ids[2]}
    assert changes.total == 12 - 3 + 1
    nothing = catalog.vector_changes(MODEL, changes.counter)
    assert len(nothing.table) == 0 and nothing.total is None  # nothing newer: not even counted


def test_cache_is_synced_incrementally_and_equals_the_catalog(catalog, tmp_path) -> None:
    path = cache_path(catalog.path, MODEL)
    spy = Spy(catalog)
    _assert_same(load_table(spy, MODEL, path), catalog.load_track_vectors(MODEL))
    assert path.is_file() and spy.calls == [None]  # first load: full read, then written
    counter = catalog.vector_changes(MODEL, None).counter
    catalog.set_status([catalog.find_track("/m/5.wav").track_id], "missing")
    catalog.write_batch([_record("/m/7.wav", 70, bpm=90.0), _record("/z.wav", 13)])
    catalog.remove_paths(["/m/8.wav"])
    spy.calls.clear()
    _assert_same(load_table(spy, MODEL, path), catalog.load_track_vectors(MODEL))
    assert spy.calls == [counter]  # only the changes were read
    spy.calls.clear()
    _assert_same(load_table(spy, MODEL, path), catalog.load_track_vectors(MODEL))
    assert len(spy.calls) == 1 and spy.calls[0] > counter  # the merged cache was written back


def _damage_flip(path) -> None:  # noqa: ANN001
    data = bytearray(path.read_bytes())
    data[-700] ^= 0x40  # inside the vectors
    path.write_bytes(bytes(data))


def _damage_truncate(path) -> None:  # noqa: ANN001
    path.write_bytes(path.read_bytes()[:-100])


def _damage_garbage(path) -> None:  # noqa: ANN001
    path.write_bytes(b"not a cache")


@pytest.mark.parametrize("damage", [_damage_flip, _damage_truncate, _damage_garbage])
def test_damaged_cache_is_detected_and_rebuilt(catalog, damage) -> None:
    path = cache_path(catalog.path, MODEL)
    load_table(catalog, MODEL, path)
    damage(path)
    spy = Spy(catalog)
    _assert_same(load_table(spy, MODEL, path), catalog.load_track_vectors(MODEL))
    assert spy.calls == [None]
    spy.calls.clear()
    load_table(spy, MODEL, path)
    assert spy.calls == [catalog.vector_changes(MODEL, None).counter]  # rewritten whole


def test_cache_of_another_catalog_or_a_later_state_is_not_trusted(catalog, tmp_path) -> None:
    path = cache_path(catalog.path, MODEL)
    load_table(catalog, MODEL, path)
    # A new library file at the same path (deleted and indexed again): counters restart.
    with Catalog.open(tmp_path / "fresh.db") as fresh:
        fresh.write_batch([_record(f"/other/{i}.wav", 50 + i) for i in range(15)])
        _assert_same(load_table(fresh, MODEL, path), fresh.load_track_vectors(MODEL))
    # A backup restored under the cache: same catalog id, counter behind the cache's.
    backup = tmp_path / "backup.db"
    shutil.copy(catalog.path, backup)
    catalog.write_batch([_record("/late.wav", 77)])
    later = cache_path(backup, MODEL)
    load_table(catalog, MODEL, later)
    with Catalog.open(backup) as restored:
        table = load_table(restored, MODEL, later)
        assert "/late.wav" not in table.paths
        _assert_same(table, restored.load_track_vectors(MODEL))


def test_other_model_and_unwritable_folder(catalog, tmp_path) -> None:
    path = cache_path(catalog.path, MODEL)
    load_table(catalog, MODEL, path)
    assert len(load_table(catalog, "other", path)) == 0  # the file says m1: not used for "other"
    # A folder that cannot be written (root ignores permissions, so: one that does not exist).
    missing = tmp_path / "gone" / "lib.db.m1.vectors"
    _assert_same(load_table(catalog, MODEL, missing), catalog.load_track_vectors(MODEL))
    assert not missing.exists()


def test_search_results_equal_with_and_without_the_cache(catalog) -> None:
    def engine(table):  # noqa: ANN001, ANN202
        return SearchEngine(table, lambda ids: catalog.window_vectors(ids, MODEL), catalog.get_tracks)

    path = cache_path(catalog.path, MODEL)
    load_table(catalog, MODEL, path)
    catalog.write_batch([_record("/m/4.wav", 40)])  # a change synced through the cache
    windows = normalize_blocks(np.random.default_rng(5).normal(size=(2, 256)))
    query = query_from_windows(windows)
    cached = engine(load_table(catalog, MODEL, path)).search(query, (1, 0.5, 0.2, 1), k=8)
    plain = engine(catalog.load_track_vectors(MODEL)).search(query, (1, 0.5, 0.2, 1), k=8)
    assert [(r.track.path, r.score, r.offset_s) for r in cached] == [
        (r.track.path, r.score, r.offset_s) for r in plain
    ]


def test_read_only_schema_3_catalog_is_searched_without_a_cache(tmp_path, monkeypatch) -> None:
    import sqlite3

    import app.core.catalog as catalog_module
    from app.core.catalog_schema import MIGRATIONS

    db = tmp_path / "old.db"
    raw = sqlite3.connect(db)
    for version in range(3):
        raw.executescript(MIGRATIONS[version])
    raw.execute("PRAGMA user_version=3")
    raw.execute("INSERT INTO tracks(id, path, size, mtime_ns, status, model_id, updated_at) "
                "VALUES(1, CAST('/a.wav' AS BLOB), 1, 2, 'ok', 'm1', 0)")
    raw.execute("INSERT INTO embeddings VALUES(1, 'm1', 1, 0, ?, ?)", (b"\0" * 512, b"\0" * 512))
    raw.commit()
    raw.close()
    # What app.core.catalog_io.connect opens for a file it may not write (root may write any).
    monkeypatch.setattr(catalog_module, "connect", lambda path: sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True, isolation_level=None,
        check_same_thread=False))
    with Catalog.open(db) as catalog:
        path = cache_path(db, MODEL)
        assert load_table(catalog, MODEL, path).paths == ["/a.wav"]
        assert load_table(catalog, MODEL, path).paths == ["/a.wav"]
        assert not path.exists()
