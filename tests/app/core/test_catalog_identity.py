"""Lossless paths, the schema 1 -> 2 migration, and content identity in the catalog."""

from __future__ import annotations

import os
import sqlite3
import unicodedata

import numpy as np

from app.core.catalog import Catalog, Relink, TrackRecord
from app.core.catalog_schema import MIGRATIONS, SCHEMA_VERSION
from model.dimensions import normalize_blocks

HOSTILE_NAMES = [
    b"caf\xe9.wav",  # Latin-1: not valid UTF-8
    b"line\nbreak.wav",
    b"-rf --help.wav",  # leading dashes
    b"x" * 251 + b".wav",  # 255 bytes, the usual NAME_MAX
    unicodedata.normalize("NFC", "d\u00e9j\u00e0.wav").encode(),
    unicodedata.normalize("NFD", "d\u00e9j\u00e0.wav").encode(),  # same text, other bytes (macOS)
]


def _record(path: str, seed: int = 0, fingerprint: str | None = None) -> TrackRecord:
    windows = normalize_blocks(np.random.default_rng(seed).normal(size=(2, 256)))
    return TrackRecord(path, 10, 20, 5.9, {"title": "T"}, "m1", track=normalize_blocks(windows.mean(0)),
                       windows=windows, fingerprint=fingerprint)


def test_any_os_file_name_is_stored_and_read_back_byte_for_byte(tmp_path) -> None:
    deep = b"/" + b"/".join([b"d%03d" % i for i in range(200)])  # an 1000-byte directory path
    paths = [os.fsdecode(deep + b"/" + name) for name in HOSTILE_NAMES]
    with Catalog.open(tmp_path / "lib.db") as catalog:
        catalog.write_batch([_record(p, seed=i) for i, p in enumerate(paths)])
        assert catalog.track_count("ok") == len(HOSTILE_NAMES)  # NFC and NFD are two files
        stored = catalog.load_track_vectors("m1").paths
        assert sorted(os.fsencode(p) for p in stored) == sorted(deep + b"/" + n for n in HOSTILE_NAMES)
        assert set(catalog.file_states()) == set(paths)
        assert catalog.find_track(paths[0]).path == paths[0]
        assert catalog.remove_paths(paths[:1]) == 1


def test_schema_1_catalog_is_migrated_with_its_vectors(tmp_path) -> None:
    db = tmp_path / "old.db"
    raw = sqlite3.connect(db)
    raw.executescript(MIGRATIONS[0])
    raw.execute("PRAGMA user_version=1")
    raw.execute("INSERT INTO tracks(id, path, size, mtime_ns, status, model_id, updated_at, title) "
                "VALUES(7, '/music/d\u00e9j\u00e0.wav', 1, 2, 'ok', 'm1', 0, 'Old')")
    raw.execute("INSERT INTO embeddings VALUES(7, 'm1', 1, 0, ?, ?)", (b"\0" * 512, b"\0" * 512))
    raw.commit()
    raw.close()
    with Catalog.open(db) as catalog:
        assert catalog.integrity_problems() == []
        info = catalog.find_track("/music/d\u00e9j\u00e0.wav")
        assert (info.track_id, info.title) == (7, "Old")
        assert catalog.model_counts() == {"m1": 1}
        assert catalog.file_states()["/music/d\u00e9j\u00e0.wav"].fingerprint is None
        catalog.set_status([7], "missing")  # the new status is allowed
    raw = sqlite3.connect(db)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()


def test_relink_moves_and_copies_rows_with_their_vectors(tmp_path) -> None:
    with Catalog.open(tmp_path / "lib.db") as catalog:
        catalog.write_batch([_record("/a.wav", seed=1, fingerprint="f1"), _record("/b.wav", seed=2, fingerprint="f2")])
        catalog.mark_pending([("/new/b.wav", 10, 30, None)])  # left over by an interrupted run
        a, b = catalog.find_track("/a.wav"), catalog.find_track("/b.wav")
        before = catalog.window_vectors([a.track_id, b.track_id], "m1")
        catalog.relink([Relink(b.track_id, "/new/b.wav", 10, 30, "f2")], [Relink(a.track_id, "/copy.wav", 10, 40, "f1")])
        assert catalog.find_track("/b.wav") is None
        assert catalog.find_track("/new/b.wav").track_id == b.track_id
        copy = catalog.find_track("/copy.wav")
        assert copy.title == "T" and copy.status == "ok" and copy.track_id != a.track_id
        after = catalog.window_vectors([copy.track_id, b.track_id], "m1")
        np.testing.assert_array_equal(after[copy.track_id], before[a.track_id])
        np.testing.assert_array_equal(after[b.track_id], before[b.track_id])
        assert catalog.ids_with_fingerprints(["f1"]) == {a.track_id, copy.track_id}
        assert catalog.track_count() == 3 and catalog.integrity_problems() == []
