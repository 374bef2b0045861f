"""A studio client's search replica (app.core.catalog_replica): a synced client searches
without the server; what the replica lacks comes from the server; a replica that cannot be
written, or that belongs to another history of the catalog, never gives a wrong answer."""

from __future__ import annotations

import logging

import numpy as np

from app.core.catalog import Catalog, TrackRecord
from app.core.catalog_records import TrackTable
from app.core.query import query_from_windows
from app.core.search import SearchEngine
from app.core.types import SearchWeights
from app.core.vector_cache import VectorCache
from model.audio import WINDOW_SECONDS


def _records(rng: np.random.Generator, first: int, n: int) -> list[TrackRecord]:
    records = []
    for i in range(first, first + n):
        windows = rng.standard_normal((3, 256)).astype(np.float32)
        windows /= np.linalg.norm(windows.reshape(3, 4, 64), axis=2).repeat(64, axis=1)
        records.append(TrackRecord(f"/lib/{i:03d}.wav", 1, i, 8.9, {"title": f"Song {i}", "album": f"A{i // 4}"},
                                   "m", track=windows.mean(0), windows=windows))  # fmt: skip
    return records


def _library(url: str, n: int = 40) -> Catalog:
    writer = Catalog.open(url)
    writer.claim_model("m")
    writer.write_batch(_records(np.random.default_rng(0), 0, n))
    return writer


def _engine(client: Catalog, table: TrackTable, server: bool = False) -> SearchEngine:
    if server:
        return SearchEngine(table, lambda ids: client.window_vectors(ids, "m"), client.get_tracks, candidates=20)
    return SearchEngine(table, *client.search_sources("m"), candidates=20)


def _summary(engine: SearchEngine, table: TrackTable, row: int) -> list[tuple]:
    windows = engine._windows([int(table.ids[row])])[int(table.ids[row])].astype(np.float32)
    results = engine.search(query_from_windows(windows[1:3]), SearchWeights(), 5)
    return [(r.track.path, r.track.title, r.track.album, round(r.score, 5), r.offset_s) for r in results]


def test_a_synced_client_searches_without_the_server(pg_url, tmp_path) -> None:
    writer = _library(pg_url)
    client = Catalog.open(pg_url)
    table = VectorCache(tmp_path / "c.vectors", "m").sync(client)
    # Windows and details come from the replica alone: the same answers as the server's.
    expected = [_summary(_engine(client, table, server=True), table, row) for row in (3, 17)]
    engine = _engine(client, table)
    client._db.raw.close()  # any server read would now raise
    assert [_summary(engine, table, row) for row in (3, 17)] == expected
    assert expected[0][0][1:3] == ("Song 3", "A0") and expected[0][0][4] == WINDOW_SECONDS  # itself, found
    writer.close(), client.close()


def test_what_the_replica_lacks_comes_from_the_server(pg_url, tmp_path) -> None:
    writer = _library(pg_url, 8)
    client = Catalog.open(pg_url)
    cache = VectorCache(tmp_path / "c.vectors", "m")
    cache.sync(client)
    windows, infos = client.search_sources("m")
    writer.write_batch(_records(np.random.default_rng(1), 8, 2))  # indexed after the client's sync
    new = [writer.find_track(f"/lib/{i:03d}.wav").track_id for i in (8, 9)]
    assert client.replica("m").windows(new) == {}
    assert sorted(windows([1, *new])) == [1, *new] and infos(new)[new[1]].title == "Song 9"
    assert np.array_equal(windows(new)[new[0]], writer.window_vectors(new, "m")[new[0]])
    cache.sync(client)
    assert sorted(client.replica("m").windows(new)) == new
    writer.close(), client.close()


def test_an_unwritable_replica_leaves_searches_to_the_server(pg_url, tmp_path, caplog) -> None:
    writer = _library(pg_url, 8)
    client = Catalog.open(pg_url)
    (tmp_path / "a-file").write_text("")
    client.cache_base = tmp_path / "a-file" / "catalog"  # its folder cannot be made
    with caplog.at_level(logging.INFO, logger="app.core.catalog_replica"):
        table = VectorCache(tmp_path / "c.vectors", "m").sync(client)
    assert len(table) == 8 and "not written" in caplog.text
    windows, infos = client.search_sources("m")
    assert sorted(windows(table.ids.tolist())) == table.ids.tolist() and infos([2])[2].title == "Song 1"
    writer.close(), client.close()


def test_a_replica_of_another_history_is_rewritten(pg_url, tmp_path) -> None:
    """The catalog at the URL replaced (another catalog id): the vector cache reads it all
    again, and the replica, which was ahead of it, is rewritten with it."""
    writer = _library(pg_url, 8)
    client = Catalog.open(pg_url)
    VectorCache(tmp_path / "c.vectors", "m").sync(client)
    writer.remove_paths(["/lib/000.wav"])
    with writer.transaction() as db:
        db.execute("UPDATE meta SET value = 'another' WHERE key = 'catalog_id'")
    table = VectorCache(tmp_path / "c.vectors", "m").sync(client)
    replica = client.replica("m")
    assert sorted(replica.windows(list(range(20)))) == table.ids.tolist() == list(range(2, 9))
    assert replica._connection().execute("SELECT value FROM meta WHERE key = 'catalog_id'").fetchone() == ("another",)
    writer.close(), client.close()


def test_two_processes_of_one_machine_share_one_replica(pg_url, tmp_path) -> None:
    """Both name the same replica (one user's data dir): one moving it on never gives the
    other a wrong answer, only the current one, as a local catalog would."""
    writer = _library(pg_url, 8)
    first, second = Catalog.open(pg_url), Catalog.open(pg_url)
    assert first.replica("m").path == second.replica("m").path
    caches = [VectorCache(tmp_path / f"{i}.vectors", "m") for i in range(2)]
    tables = [cache.sync(client) for cache, client in zip(caches, (first, second), strict=True)]
    writer.remove_paths(["/lib/002.wav"])
    writer.write_batch(_records(np.random.default_rng(1), 8, 2))
    caches[0].sync(first)  # the replica is now ahead of the second process's table
    windows, infos = second.search_sources("m")
    ids = tables[1].ids.tolist()
    assert sorted(windows(ids)) == sorted(infos(ids)) == [i for i in ids if i != 3]
    assert len(caches[1].sync(second)) == 9 == len(second.replica("m").windows(list(range(20))))
    writer.close(), first.close(), second.close()
