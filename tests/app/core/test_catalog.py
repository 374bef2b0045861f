"""The SQLite catalog: schema version, atomic batches, compact vectors, upserts."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from app.core.catalog import SCHEMA_VERSION, Catalog, CatalogError, TrackRecord, default_db_path
from model.dimensions import normalize_blocks


def _record(path: str, n: int = 3, model: str = "m1", seed: int = 0) -> TrackRecord:
    windows = normalize_blocks(np.random.default_rng(seed).normal(size=(n, 256)))
    return TrackRecord(path, 10, 20, n * 2.97, {"title": "T", "album": "A", "bpm": 128.0}, model,
                       track=normalize_blocks(windows.mean(0)), windows=windows)


def test_new_catalog_is_wal_and_versioned(tmp_path) -> None:
    catalog = Catalog.open(tmp_path / "sub" / "lib.db")
    raw = sqlite3.connect(tmp_path / "sub" / "lib.db")
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    raw.close()
    assert catalog.integrity_problems() == []
    catalog.close()


def test_missing_catalog_without_create_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(CatalogError, match="no library at"):
        Catalog.open(tmp_path / "nope.db", create=False)


def test_newer_schema_is_refused(tmp_path) -> None:
    Catalog.open(tmp_path / "lib.db").close()
    raw = sqlite3.connect(tmp_path / "lib.db")
    raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    raw.commit()
    raw.close()
    with pytest.raises(CatalogError, match="newer"):
        Catalog.open(tmp_path / "lib.db")


def test_default_path_honours_data_dir_override(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SOUNDALIKE_DATA_DIR", str(tmp_path))
    assert default_db_path() == tmp_path / "library.db"


def test_vectors_round_trip_as_float16_and_upserts_do_not_duplicate(tmp_path) -> None:
    catalog = Catalog.open(tmp_path / "lib.db")
    first = _record("/a.wav", n=4)
    catalog.write_batch([first, _record("/b.wav", seed=1)])
    catalog.write_batch([_record("/a.wav", n=4, seed=5)])  # re-index of the same file
    assert catalog.track_count() == 2
    table = catalog.load_track_vectors("m1")
    assert table.vectors.dtype == np.float16 and table.vectors.shape == (2, 256)
    info = catalog.find_track("/a.wav")
    stored = catalog.window_vectors([info.track_id], "m1")[info.track_id]
    expected = _record("/a.wav", n=4, seed=5).windows
    assert stored.shape == (4, 256)
    np.testing.assert_allclose(stored.astype(np.float32), expected, atol=1e-3)
    assert info.bpm == 128.0 and info.album == "A" and info.status == "ok"
    assert catalog.load_track_vectors("other-model").ids.size == 0
    assert catalog.model_counts() == {"m1": 2}
    catalog.close()


def test_a_failed_batch_writes_nothing(tmp_path) -> None:
    catalog = Catalog.open(tmp_path / "lib.db")
    good = _record("/ok.wav")
    broken = TrackRecord("/bad.wav", 1, 1, 1.0, {}, "m1", track=np.zeros(3), windows=np.zeros((1, 256)))
    with pytest.raises(ValueError):
        catalog.write_batch([good, broken])
    assert catalog.track_count() == 0
    catalog.close()


def test_errors_are_recorded_and_replace_old_vectors(tmp_path) -> None:
    catalog = Catalog.open(tmp_path / "lib.db")
    catalog.write_batch([_record("/x.wav")])
    catalog.write_batch([TrackRecord("/x.wav", 11, 21, error="/x.wav: truncated file")])
    assert catalog.errors() == [("/x.wav", "/x.wav: truncated file")]
    assert catalog.model_counts() == {}
    assert catalog.remove_paths(["/x.wav"]) == 1 and catalog.track_count() == 0
    catalog.close()


def test_pending_rows_and_file_states(tmp_path) -> None:
    catalog = Catalog.open(tmp_path / "lib.db")
    catalog.mark_pending([("/p.wav", 5, 6, None)])
    state = catalog.file_states()["/p.wav"]
    assert (state.size, state.mtime_ns, state.status, state.model_id) == (5, 6, "pending", None)
    catalog.write_batch([_record("/p.wav", model="m2")])
    assert catalog.file_states()["/p.wav"].model_id == "m2"
    catalog.close()


def test_measured_bpm_wins_over_the_tag_and_the_tag_fills_in(tmp_path) -> None:
    from dataclasses import replace

    catalog = Catalog.open(tmp_path / "lib.db")
    catalog.write_batch([
        replace(_record("/m/a.wav"), measured_bpm=100.0, loudness_lufs=-14.5),
        replace(_record("/m/b.wav", seed=1)),  # tag says 128, the audio said nothing
    ])
    a, b = catalog.find_track("/m/a.wav"), catalog.find_track("/m/b.wav")
    assert (a.bpm, a.loudness_lufs) == (100.0, -14.5)
    assert (b.bpm, b.loudness_lufs) == (128.0, None)
    assert catalog.load_track_vectors("m1").bpm.tolist() == [100.0, 128.0]  # the BPM filter's column
    catalog.close()


def test_version_2_catalog_migrates_keeping_tag_bpms(tmp_path) -> None:
    from app.core.catalog_schema import MIGRATIONS

    raw = sqlite3.connect(tmp_path / "lib.db")
    raw.executescript(MIGRATIONS[0] + MIGRATIONS[1])
    raw.execute("INSERT INTO tracks(path, size, mtime_ns, bpm, status, updated_at) "
                "VALUES(?, 1, 1, 90.0, 'ok', 0)", (b"/m/old.wav",))
    raw.execute("PRAGMA user_version=2")
    raw.commit()
    raw.close()
    catalog = Catalog.open(tmp_path / "lib.db")
    old = catalog.find_track("/m/old.wav")
    assert (old.bpm, old.loudness_lufs) == (90.0, None)
    with catalog.transaction() as db:
        assert db.execute("SELECT bpm_source FROM tracks").fetchone()[0] == "tag"
    catalog.close()
