"""Integrity checks of a SQLite catalog (``soundalike check``, Library ▸ Check catalog…):
each kind of damage an outside hand can do is named in one sentence, and a healthy file
gives none. (The PostgreSQL side: tests/app/studio/test_pg_catalog.py.)"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from app.cli import main
from app.core.catalog import Catalog, CatalogError, TrackRecord
from app.core.catalog_check import check_catalog


def _catalog(path: Path, n: int = 3) -> Path:
    vectors = np.ones((n, 256), np.float16)
    with Catalog.open(path) as catalog:
        catalog.write_batch([TrackRecord(f"/m/{i}.wav", 1, 1, 6.0, {}, "m", track=vectors[i],
                                         windows=vectors[i : i + 1]) for i in range(n)])  # fmt: skip
    return path


def test_a_healthy_catalog_has_no_problems(tmp_path) -> None:
    report = check_catalog(_catalog(tmp_path / "lib.db"))
    assert report.ok and report.tracks == 3 and report.problems == ()
    assert report.lines() == [f"{tmp_path / 'lib.db'}: 3 tracks, no problems found"]


def test_rows_an_outside_hand_broke_are_named(tmp_path) -> None:
    path = _catalog(tmp_path / "lib.db")
    raw = sqlite3.connect(path)  # foreign keys off, as any other tool opens it
    with raw:
        raw.execute("DELETE FROM embeddings WHERE track_id = (SELECT min(id) FROM tracks)")
        raw.execute("INSERT INTO embeddings VALUES (999, 'm', 1, 0, x'00', x'00')")
        raw.execute("UPDATE meta SET value = '1' WHERE key = 'change_counter'")
    raw.close()
    report = check_catalog(path)
    assert not report.ok
    assert report.problems[0] == "1 rows of embeddings belong to tracks that are gone"
    assert report.problems[1].startswith("tracks stamped ") and "after the change counter 1" in report.problems[1]
    assert report.problems[2] == "1 tracks marked indexed have no vectors (they are never found; the next index run of their folders embeds them again)"
    assert report.lines()[2] == f"{path}: {report.problems[2]}"


def test_damaged_pages_are_reported_before_rows_are_trusted(tmp_path) -> None:
    path = _catalog(tmp_path / "lib.db", n=200)
    with sqlite3.connect(path) as raw:
        root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'tracks_rev'").fetchone()[0]
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
    raw.close()
    with open(path, "r+b") as f:  # an index page overwritten (a bad sector, a stray write)
        f.seek((root - 1) * page_size + 8)
        f.write(b"\xff" * 64)
    problems = check_catalog(path).problems
    assert problems and all(p.startswith("damaged file: ") for p in problems)


def test_a_long_check_can_be_stopped(tmp_path) -> None:
    with pytest.raises(CatalogError, match="stopped before it finished"):
        check_catalog(_catalog(tmp_path / "lib.db", n=50), stop=lambda: True)


def test_cli_prints_one_line_per_problem_and_fails(tmp_path, capsys) -> None:
    path = _catalog(tmp_path / "lib.db")
    assert main(["check", "--db", str(path)]) == 0
    assert capsys.readouterr().out == f"{path}: 3 tracks, no problems found\n"
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM embeddings")
    raw.close()
    assert main(["check", "--db", str(path)]) == 1
    assert capsys.readouterr().out == f"{path}: 3 tracks marked indexed have no vectors (they are never found; the next index run of their folders embeds them again)\n"
    assert main(["check", "--db", str(path), "--json"]) == 1
    import json

    doc = json.loads(capsys.readouterr().out)
    assert doc == {"catalog": str(path), "tracks": 3, "ok": False,
                   "problems": ["3 tracks marked indexed have no vectors (they are never found; the next index run of their folders embeds them again)"]}  # fmt: skip
    assert main(["check", "--db", str(tmp_path / "none.db")]) == 2
    assert "no library at" in capsys.readouterr().err
