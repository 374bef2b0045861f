"""The catalog on a real PostgreSQL server: same rows as SQLite, schema versions, one model,
clients' local vector caches kept in step while an indexer writes."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from app.core.catalog import Catalog, CatalogError, TrackRecord
from app.core.catalog_pg import PgCatalog
from app.core.catalog_records import TrackTable
from app.core.indexer import IndexSummary, index_folders
from app.core.vector_cache import VectorCache, load_table
from tests.app.library_helpers import make_library, make_model


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from model.encoder import Encoder

    return Encoder.load(make_model(tmp_path_factory.mktemp("model") / "m.pt"), device="cpu")


def _state(catalog: Catalog) -> tuple[list, dict]:
    """What a user sees of a catalog, without ids (each engine numbers rows its own way)."""
    tracks = [(t.path, t.title, t.duration_s, t.bpm, t.status, t.loudness_lufs) for t in catalog.tracks()]
    by_id = {t.track_id: t.path for t in catalog.tracks()}
    table = catalog.load_track_vectors(next(iter(catalog.model_counts())))
    vectors = {by_id[int(i)]: v.tobytes() for i, v in zip(table.ids, table.vectors, strict=True)}
    return tracks, vectors


def _index(catalog: Catalog, folder, encoder) -> IndexSummary:
    summary = IndexSummary()
    for _ in index_folders(catalog, [folder], encoder, summary=summary, workers=0):
        pass
    return summary


def test_indexer_leaves_the_same_library_in_sqlite_and_postgresql(tmp_path, pg_url, encoder) -> None:
    paths = make_library(tmp_path / "music", n=4, seconds=7)
    (tmp_path / "music" / "bad.wav").write_bytes(b"RIFF" + b"\x01" * 300)
    lite, pg = Catalog.open(tmp_path / "lib.db"), Catalog.open(pg_url)
    assert isinstance(pg, PgCatalog) and "postgresql://" in str(pg.path)
    for catalog in (lite, pg):
        first = _index(catalog, tmp_path / "music", encoder)
        assert (first.added, len(first.failed)) == (5, 1)
    assert _state(lite) == _state(pg)
    # A move, a copy and a deletion: rows relinked, copied and marked missing on both.
    paths[0].rename(tmp_path / "music" / "moved.wav")
    (tmp_path / "music" / "copy.wav").write_bytes(paths[1].read_bytes())
    paths[2].unlink()
    for catalog in (lite, pg):
        again = _index(catalog, tmp_path / "music", encoder)
        assert (again.moved, again.copied, again.missing, again.added) == (1, 1, 1, 0)
    assert _state(lite) == _state(pg)
    assert pg.errors()[0][0].endswith("bad.wav") and lite.errors() == pg.errors()
    lite.close(), pg.close()


def test_schema_is_versioned_and_a_newer_one_refused(pg_url) -> None:
    with pytest.raises(CatalogError, match="no library at"):
        Catalog.open(pg_url, create=False)
    catalog = Catalog.open(pg_url)
    assert catalog.get_meta("schema_version") == "4" and catalog.integrity_problems() == []
    Catalog.open(pg_url).close()  # a second client: nothing to migrate
    catalog.set_meta("schema_version", "99")
    with pytest.raises(CatalogError, match="newer than this soundalike"):
        Catalog.open(pg_url)
    catalog.close()


def test_a_second_model_is_refused(pg_url) -> None:
    catalog = Catalog.open(pg_url)
    catalog.claim_model("model-a")
    catalog.claim_model("model-a")
    with pytest.raises(CatalogError, match="embedded with model model-a; this run's model is model-b"):
        catalog.claim_model("model-b")
    vectors = np.ones((2, 256), np.float16)
    record = TrackRecord("/x.wav", 1, 1, 6.0, {}, "model-b", track=vectors[0], windows=vectors)
    with pytest.raises(CatalogError, match="model-b"):
        catalog.write_batch([record])
    assert catalog.track_count() == 0
    catalog.close()


def test_integrity_check_finds_what_an_outside_hand_broke(pg_url, capsys) -> None:
    import psycopg

    from app.cli import main

    catalog = Catalog.open(pg_url)
    catalog.claim_model("model-a")
    vectors = np.ones((2, 256), np.float16)
    catalog.write_batch([TrackRecord(f"/{name}.wav", 1, 1, 6.0, {}, "model-a", track=vectors[0], windows=vectors)
                         for name in "abc"])  # fmt: skip
    assert catalog.integrity_problems() == []
    assert main(["check", "--db", pg_url]) == 0
    assert capsys.readouterr().out == f"{catalog.path}: 3 tracks, no problems found\n"
    a, b = (catalog.find_track(f"/{name}.wav").track_id for name in "ab")
    with psycopg.connect(pg_url, autocommit=True) as outside:
        outside.execute("UPDATE embeddings SET model_id = 'model-z' WHERE track_id = %s", (a,))
        outside.execute("DELETE FROM embeddings WHERE track_id = %s", (b,))
        outside.execute("UPDATE meta SET value = '2' WHERE key = 'change_counter'")
    problems = catalog.integrity_problems()
    assert problems[0] == "vectors of other models than the library's model-a: model-z"
    assert problems[1].startswith("tracks stamped ") and "after the change counter 2" in problems[1]
    assert problems[2] == "1 tracks marked indexed have no vectors (they are never found; the next index run of their folders embeds them again)"
    assert main(["check", "--db", pg_url]) == 1  # `soundalike check`: one line per problem
    assert capsys.readouterr().out.splitlines() == [f"{catalog.path}: {problem}" for problem in problems]
    catalog.set_meta("schema_version", "3")
    assert catalog.integrity_problems() == ["schema version 3, expected 4"]
    catalog.close()


def test_unreachable_server_is_one_line(tmp_path) -> None:
    with pytest.raises(CatalogError, match="cannot open library postgresql://u:\\*\\*\\*@") as info:
        Catalog.open(f"postgresql://u:secret@/db?host={tmp_path}")
    assert "secret" not in str(info.value) and "\n" not in str(info.value)


def test_two_clients_stay_in_step_while_an_indexer_writes(pg_url, tmp_path) -> None:
    """Each client's cache is, at every sync, the library as of one committed batch (never
    half a batch), found incrementally after the first full read, and equal at the end.
    Client 0 holds its cache in memory across syncs (as the app does); client 1 reads its
    file back at every sync (as a new process would). Each client's search replica (another
    machine's disk each) holds, after every sync, the windows and details of exactly the
    tracks its cache holds, as the server has them."""
    writer = Catalog.open(pg_url)
    writer.claim_model("m")
    clients = [Catalog.open(pg_url) for _ in range(2)]
    clients[1].cache_base = tmp_path / "machine1" / "catalog"
    full_reads = []
    for client in clients:
        read = client.vector_changes
        client.vector_changes = lambda m, since, read=read: full_reads.append(since is None) or read(m, since)
    rng = np.random.default_rng(0)

    def batch(b: int) -> list[TrackRecord]:
        vectors = rng.standard_normal((5, 256)).astype(np.float16)
        return [TrackRecord(f"/lib/{b:02d}-{i}.wav", 1, 1, 6.0, {"album": f"a{b}"}, "m",
                            track=vectors[i], windows=vectors[i : i + 1]) for i in range(5)]  # fmt: skip

    writer.write_batch(batch(0))
    done, synced = threading.Event(), threading.Event()

    def write() -> None:
        for b in range(1, 16):
            writer.write_batch(batch(b))
            synced.wait(timeout=30)  # the writer never finishes before the clients sync a few
            synced.clear()  # times (a first sync can take longer than all the batches)
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    sizes = []
    held = VectorCache(tmp_path / "client0.vectors", "m")

    def sync(i: int, client) -> TrackTable:  # noqa: ANN001
        return held.sync(client) if i == 0 else load_table(client, "m", tmp_path / f"client{i}.vectors")

    def replica_matches(client, table: TrackTable) -> None:  # noqa: ANN001
        replica, ids = client.replica("m"), table.ids.tolist()
        windows, infos = replica.windows(ids + [10**6]), replica.infos(ids)
        assert sorted(windows) == ids and [infos[i].path for i in ids] == table.paths
        assert all(np.array_equal(windows[i][0], v) for i, v in zip(ids, table.vectors, strict=True))
        assert [infos[i].album for i in ids] == table.albums
        assert replica._read("SELECT id FROM tracks WHERE id NOT IN ({marks})", ids) == []

    while not done.is_set():
        for i, client in enumerate(clients):
            table = sync(i, client)
            assert len(table) % 5 == 0 and list(table.ids) == sorted(set(table.ids.tolist()))
            assert set(table.paths) == {f"/lib/{b:02d}-{k}.wav" for b in range(len(table) // 5) for k in range(5)}
            replica_matches(client, table)
            sizes.append(len(table))
        synced.set()
    thread.join()
    # Deletions, a vanished file and a failed re-index reach the caches too.
    writer.remove_paths(["/lib/03-0.wav"])
    writer.set_status([writer.find_track("/lib/04-1.wav").track_id], "missing")
    writer.write_batch([TrackRecord("/lib/05-2.wav", 1, 2, error="cannot decode")])
    # A file changed on disk: same track id, new vectors and tags.
    again = rng.standard_normal((1, 256)).astype(np.float16)
    writer.write_batch([TrackRecord("/lib/06-0.wav", 2, 3, 6.0, {"album": "new"}, "m", track=again[0], windows=again)])
    expected = writer.load_track_vectors("m")
    assert len(expected) == 16 * 5 - 3
    for i, client in enumerate(clients):
        table = sync(i, client)
        assert table.ids.tolist() == expected.ids.tolist() and table.paths == expected.paths
        assert np.array_equal(table.vectors, expected.vectors) and table.albums == expected.albums
        replica_matches(client, table)
    assert full_reads.count(True) == 2 and len(full_reads) > 4 and len(set(sizes)) > 1
    writer.close(), [c.close() for c in clients]


def test_the_app_opens_the_catalog_its_settings_name_or_falls_back(pg_url, tmp_path, monkeypatch) -> None:
    from app.services.bootstrap import open_catalog

    monkeypatch.setenv("SOUNDALIKE_DATA_DIR", str(tmp_path / "data"))
    catalog, problem = open_catalog(pg_url)
    assert isinstance(catalog, PgCatalog) and problem == ""
    catalog.close()
    catalog, problem = open_catalog(f"postgresql://u:pw@/gone?host={tmp_path}")
    assert not isinstance(catalog, PgCatalog) and catalog.path == tmp_path / "data" / "library.db"
    assert problem.startswith("cannot open library postgresql://u:***@") and "using the local library" in problem
    catalog.close()
