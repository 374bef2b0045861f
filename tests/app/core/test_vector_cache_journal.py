"""The vector cache between syncs: held in memory, each sync appended to its file as one
frame, a frame torn by a killed client never read, the file compacted when frames pile up."""

from __future__ import annotations

import numpy as np
import pytest

import app.core.vector_cache as vector_cache
from app.core.catalog_records import TrackTable
from app.core.table_merge import merge, squash
from app.core.vector_cache import VectorCache, cache_path, load_table
from app.core.vector_cache_file import read_frames
from tests.app.core.test_vector_cache import MODEL, Spy, _assert_same, _record, catalog  # noqa: F401


@pytest.fixture(autouse=True)
def _no_compaction_by_size(monkeypatch):
    """The test catalogs are tiny: one frame outweighs their snapshot."""
    monkeypatch.setattr(vector_cache, "COMPACT_SHARE", 100.0)


def _sync_changes(library, cache: VectorCache, step: int) -> None:  # noqa: ANN001
    """One round of every kind of change (new, re-embedded, removed tracks), then a sync."""
    library.write_batch([_record(f"/new/{step}.wav", 100 + step), _record(f"/m/{step}.wav", 200 + step)])
    library.remove_paths([f"/m/{step + 6}.wav"])
    cache.sync(library)


def test_syncs_read_only_changes_and_append_them(catalog, monkeypatch) -> None:  # noqa: F811
    path = cache_path(catalog.path, MODEL)
    cache, spy = VectorCache(path, MODEL), Spy(catalog)
    cache.sync(spy)
    snapshot = path.read_bytes()
    reads = []
    monkeypatch.setattr(vector_cache, "read_frames", lambda p: reads.append(p))  # the file is read once
    for step in range(3):
        _sync_changes(catalog, cache, step)
        _assert_same(cache.sync(spy), catalog.load_track_vectors(MODEL))
    assert reads == [] and spy.calls[0] is None and None not in spy.calls[1:]
    data = path.read_bytes()
    assert data.startswith(snapshot) and len(data) > len(snapshot)  # appended, not rewritten
    monkeypatch.undo()
    frames, end = read_frames(path)
    assert len(frames) == 4 and end == len(data)
    restarted = Spy(catalog)
    _assert_same(load_table(restarted, MODEL, path), catalog.load_track_vectors(MODEL))
    assert restarted.calls == [spy.calls[-1]]  # a new process: the file's frames, then changes only


@pytest.mark.parametrize("kept", [0, 3, 200, -1])  # bytes of the last frame written (-1: all but one)
def test_a_frame_torn_by_a_killed_client_is_never_read(catalog, kept) -> None:  # noqa: F811
    path = cache_path(catalog.path, MODEL)
    cache = VectorCache(path, MODEL)
    cache.sync(catalog)
    _sync_changes(catalog, cache, 0)
    counter_after_first = read_frames(path)[0][-1].head["counter"]
    size_after_first = path.stat().st_size
    _sync_changes(catalog, cache, 1)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 1 if kept < 0 else size_after_first + kept])  # killed mid-append
    spy = Spy(catalog)
    fresh = VectorCache(path, MODEL)
    _assert_same(fresh.sync(spy), catalog.load_track_vectors(MODEL))
    assert spy.calls == [counter_after_first]  # the state before the torn sync, then its changes
    frames, end = read_frames(path)  # a file with a torn tail is rewritten whole, not appended to
    assert len(frames) == (3 if kept == 0 else 1) and end == path.stat().st_size
    _assert_same(load_table(catalog, MODEL, path), catalog.load_track_vectors(MODEL))


def test_frames_are_compacted_into_a_new_snapshot(catalog, monkeypatch) -> None:  # noqa: F811
    monkeypatch.setattr(vector_cache, "MAX_FRAMES", 2)
    path = cache_path(catalog.path, MODEL)
    cache = VectorCache(path, MODEL)
    cache.sync(catalog)
    counts = []
    for step in range(4):
        _sync_changes(catalog, cache, step)
        counts.append(len(read_frames(path)[0]))
    assert counts == [2, 3, 1, 2]
    _assert_same(load_table(catalog, MODEL, path), catalog.load_track_vectors(MODEL))


def test_a_file_replaced_by_another_process_is_rewritten_not_appended_to(catalog) -> None:  # noqa: F811
    path = cache_path(catalog.path, MODEL)
    first, second = VectorCache(path, MODEL), VectorCache(path, MODEL)
    first.sync(catalog)
    second.sync(catalog)  # reads the file, appends nothing
    _sync_changes(catalog, first, 0)  # appended to the file `second` read
    _sync_changes(catalog, second, 1)  # the file is not as `second` left it: rewritten whole
    assert len(read_frames(path)[0]) == 1
    _sync_changes(catalog, first, 2)  # nor as `first` left it
    assert len(read_frames(path)[0]) == 1
    _assert_same(load_table(catalog, MODEL, path), catalog.load_track_vectors(MODEL))


def test_an_unwritable_cache_is_tried_once_and_still_synced(catalog, tmp_path, monkeypatch) -> None:  # noqa: F811
    writes = []
    snapshot = vector_cache.snapshot_parts
    monkeypatch.setattr(vector_cache, "snapshot_parts", lambda *a: writes.append(1) or snapshot(*a))
    cache = VectorCache(tmp_path / "gone" / "lib.db.m1.vectors", MODEL)  # a folder that is not there
    cache.sync(catalog)
    for step in range(2):
        _sync_changes(catalog, cache, step)
        _assert_same(cache.sync(catalog), catalog.load_track_vectors(MODEL))
    assert writes == [1] and not (tmp_path / "gone").exists()


def _table(ids: list[int], seed: int) -> TrackTable:
    rng = np.random.default_rng(seed)
    n = len(ids)
    return TrackTable(
        ids=np.array(ids, np.int64), vectors=rng.normal(size=(n, 256)).astype(np.float16),
        n_windows=rng.integers(1, 9, n).astype(np.int32), duration_s=rng.random(n).astype(np.float32),
        bpm=rng.random(n).astype(np.float32), paths=[f"/p/{i}-{seed}" for i in ids],
        albums=[f"a{i % 3}" for i in ids], fingerprints=[None if i % 4 else f"f{i}" for i in ids],
    )


def test_squashed_steps_merge_like_each_step_in_turn() -> None:
    rng = np.random.default_rng(3)
    base = _table(list(range(0, 60, 2)), 0)
    steps = []
    for seed in range(1, 8):  # upserts of old and new ids, removals, ids removed then re-added
        chosen = np.sort(rng.choice(70, size=20, replace=False))
        upserts, removed = chosen[:12], chosen[12:]
        steps.append((_table(upserts.tolist(), seed), removed.astype(np.int64)))
    one_by_one = base
    for changed, removed in steps:
        one_by_one = merge(one_by_one, changed, removed)
    _assert_same(merge(base, *squash(steps)), one_by_one)
    assert one_by_one.ids.tolist() == sorted(set(one_by_one.ids.tolist()))


def test_appended_tracks_fill_spare_rows_and_never_touch_an_older_table() -> None:
    from app.core.table_merge import append_into, concat_tables, room_of

    base = _table(list(range(100)), 0)
    older, buffer = append_into(None, base, _table([100, 101], 1))
    spare = buffer.shape[0]
    assert spare > 102 and np.shares_memory(older.vectors, buffer)
    kept = older.vectors.copy()
    newer, same = append_into(buffer, older, _table([102, 103, 104], 2))
    assert same is buffer and buffer.shape[0] == spare  # no copy of the rows held
    np.testing.assert_array_equal(older.vectors, kept)  # the older table (an engine may search it)
    _assert_same(newer, concat_tables([base, _table([100, 101], 1), _table([102, 103, 104], 2)]))
    bigger, moved = append_into(buffer, newer, _table(list(range(105, 105 + spare)), 3))
    assert moved is not buffer and len(bigger) == 105 + spare  # out of room: a larger buffer
    np.testing.assert_array_equal(bigger.vectors[:105], newer.vectors)
    assert room_of(bigger) is moved and room_of(base) is None
    read = concat_tables([base, _table([100, 101], 1)], room=True)  # a first read, with room
    assert room_of(read) is not None and room_of(read).shape[0] > 102
    _assert_same(read, concat_tables([base, _table([100, 101], 1)]))


def test_a_cache_that_only_grows_equals_the_catalog_through_every_kind_of_sync(catalog) -> None:  # noqa: F811
    cache = VectorCache(cache_path(catalog.path, MODEL), MODEL)
    cache.sync(catalog)
    for step in range(5):
        if step == 2:
            catalog.remove_paths(["/m/1.wav"])  # not an append: merged, the spare rows dropped
        else:
            catalog.write_batch([_record(f"/grow/{step}-{i}.wav", 300 + 10 * step + i) for i in range(3)])
        table = cache.sync(catalog)
        _assert_same(table, catalog.load_track_vectors(MODEL))
        assert (cache.grown_from is not None) == (step != 2)
    _assert_same(load_table(catalog, MODEL, cache.path), catalog.load_track_vectors(MODEL))


@pytest.mark.parametrize("mapped", [True, False])
def test_a_read_table_is_writable_and_outlives_its_file(catalog, monkeypatch, mapped) -> None:  # noqa: F811
    """Mapped (POSIX) or read into memory (elsewhere), the frames are the same and writable, and a
    table read from the file stays as it was when the file is replaced or appended to."""
    from app.core import vector_cache_file

    monkeypatch.setattr(vector_cache_file, "MAP_FILES", mapped)
    path = cache_path(catalog.path, MODEL)
    cache = VectorCache(path, MODEL)
    cache.sync(catalog)
    _sync_changes(catalog, cache, 0)
    frames, end = read_frames(path)
    assert len(frames) == 2 and end == path.stat().st_size
    table = frames[0].table
    before = table.vectors.copy()
    assert table.vectors.flags.writeable
    on_disk = path.read_bytes()
    table.vectors[0] = 0  # copy-on-write: the file is not touched
    assert path.read_bytes() == on_disk
    table.vectors[0] = before[0]
    _sync_changes(catalog, cache, 1)  # appended to
    path.unlink()
    cache_path(catalog.path, MODEL).write_bytes(b"not a cache")  # the name now holds another file
    assert np.array_equal(table.vectors, before)
    assert read_frames(path) is None
    _assert_same(load_table(catalog, MODEL, path), catalog.load_track_vectors(MODEL))
