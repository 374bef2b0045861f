"""`soundalike index` and `soundalike search` as a user runs them: real files, SQLite, faiss."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.cli import main
from tests.app.library_helpers import WINDOW_S, make_library, make_model
from tests.synth_audio import music_like, write_audio

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    """A library of 5 tracks indexed through the CLI; returns (db, model, track paths)."""
    base = tmp_path_factory.mktemp("cli")
    model = make_model(base / "m.pt")
    paths = make_library(base / "music", n=5, seconds=12)
    (base / "music" / "broken.wav").write_bytes(b"RIFF" + os.urandom(200))
    db = base / "lib.db"
    assert main(["index", str(base / "music"), "--db", str(db), "--model", str(model), "--workers", "0"]) == 0
    return db, model, paths


def _search(capsys, db, model, *args: str) -> tuple[int, str, str]:
    code = main(["search", *args, "--db", str(db), "--model", str(model)])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_index_reports_failures_and_summary(tmp_path, capsys) -> None:
    model = make_model(tmp_path / "m.pt")
    make_library(tmp_path / "music", n=2, seconds=6)
    (tmp_path / "music" / "bad.mp3").write_bytes(b"\x00" * 300)
    db = tmp_path / "lib.db"
    assert main(["index", str(tmp_path / "music"), "--db", str(db), "--model", str(model), "--workers", "0"]) == 0
    err = capsys.readouterr().err
    assert "bad.mp3" in err and "3 added" in err and "1 failed" in err
    assert main(["index", str(tmp_path / "music"), "--db", str(db), "--model", str(model)]) == 0
    assert "3 unchanged" in capsys.readouterr().err


def test_index_leaves_the_search_vector_cache_current(tmp_path, capsys) -> None:
    """After `index` (a first run, then one that adds a file) a search's cache sync reads no
    vector rows: the cache file already holds the catalog as of its counter."""
    from app.core.catalog import Catalog
    from app.core.vector_cache import cache_path, load_table
    from model.model_id import model_id_of
    from tests.app.core.test_vector_cache import Spy

    model = make_model(tmp_path / "m.pt")
    paths = make_library(tmp_path / "music", n=2, seconds=6)
    db = tmp_path / "lib.db"
    model_id = model_id_of(model)
    for step in range(2):
        if step:
            write_audio(paths[0].with_name("added.wav"), music_like(seed=9, seconds=6))
        assert main(["index", str(tmp_path / "music"), "--db", str(db), "--model", str(model), "--workers", "0"]) == 0
        with Catalog.open(db) as catalog:
            spy = Spy(catalog)
            table = load_table(spy, model_id, cache_path(db, model_id))
            assert spy.calls == [catalog.vector_changes(model_id, None).counter]  # no full read
            assert sorted(table.paths) == sorted(t.path for t in catalog.tracks("ok"))
            assert len(table) == 2 + step
    capsys.readouterr()


def test_search_json_contract_and_offsets(indexed, capsys) -> None:
    db, model, paths = indexed
    target = paths[4]  # 24 s: 8 windows
    code, out, _ = _search(capsys, db, model, str(target), "--start", str(3 * WINDOW_S),
                           "--end", str(6 * WINDOW_S), "-k", "3", "--json", "--include-self")
    assert code == 0
    results = json.loads(out)
    assert len(results) == 3
    for r in results:
        assert set(r) == {"path", "score", "offset_s", "dimensions", "dimensions_raw", "score_raw", "tags", "bpm"}
        assert set(r["dimensions"]) == set(r["dimensions_raw"]) == {"genre", "mood", "instrument", "tempo"}
        assert r["score"] == pytest.approx(sum(r["dimensions"].values()) / 4, abs=1e-4)
        assert r["score_raw"] == pytest.approx(sum(r["dimensions_raw"].values()), abs=1e-4)
        assert all(0.0 <= v <= 1.0 for v in r["dimensions"].values())
    assert results[0]["path"] == str(target)
    assert results[0]["offset_s"] == pytest.approx(3 * WINDOW_S, abs=0.01)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    # Without --include-self the query file is left out.
    code, out, _ = _search(capsys, db, model, str(target), "--json")
    assert str(target) not in [r["path"] for r in json.loads(out)]


def test_search_from_list_prints_one_json_line_per_clip(indexed, tmp_path, capsys) -> None:
    """The batch form loads the model once and answers each clip alone, in list order."""
    db, model, paths = indexed
    listing = tmp_path / "clips.txt"
    missing = tmp_path / "gone.wav"
    listing.write_text(f"# clips\n{paths[4]}\n\n{missing}\n{paths[1]}\n", encoding="utf-8")
    code, out, _ = _search(capsys, db, model, "--from-list", str(listing), "-k", "2", "--include-self")
    assert code == 0
    lines = [json.loads(line) for line in out.splitlines()]
    assert [line["query"] for line in lines] == [str(paths[4]), str(missing), str(paths[1])]
    assert lines[0]["results"][0]["path"] == str(paths[4]) and len(lines[0]["results"]) == 2
    assert "error" in lines[1] and "results" not in lines[1]
    assert lines[2]["results"][0]["path"] == str(paths[1])
    code, _, err = _search(capsys, db, model, str(paths[0]), "--from-list", str(listing))
    assert code != 0 and "not both" in err


def test_search_weights_table_filters_mix_and_multi(indexed, capsys) -> None:
    db, model, paths = indexed
    code, out, _ = _search(capsys, db, model, str(paths[0]), "--weights", "genre=1,mood=0,instrument=0,tempo=0", "--json")
    assert code == 0
    for r in json.loads(out):
        assert r["score"] == pytest.approx(r["dimensions"]["genre"], abs=1e-5)
    code, out, _ = _search(capsys, db, model, str(paths[0]))
    assert code == 0 and "score" in out.splitlines()[0] and str(paths[1]) in out
    code, out, _ = _search(capsys, db, model, str(paths[0]), "--max-duration", "15", "--json")
    kept = {r["path"] for r in json.loads(out)}
    assert kept == {str(paths[1])}  # 12 s and 15 s tracks; paths[0] is the query itself
    # Mix-and-match: tempo from paths[3]; with only tempo weighted, the base clip does not
    # matter, so compare against the same mix on paths[3] (paths[3]'s own file is excluded).
    code, mixed, _ = _search(capsys, db, model, str(paths[0]), "--ref", f"tempo={paths[3]}",
                             "--weights", "genre=0,mood=0,instrument=0,tempo=1", "--json")
    code2, alone, _ = _search(capsys, db, model, str(paths[3]), "--ref", f"tempo={paths[3]}",
                              "--weights", "genre=0,mood=0,instrument=0,tempo=1", "--json", "--include-self")
    assert code == code2 == 0
    alone_rest = [r for r in json.loads(alone) if r["path"] not in (str(paths[0]), str(paths[3]))]
    assert [r["path"] for r in json.loads(mixed)] == [r["path"] for r in alone_rest]
    # Multi-query: two clips; neither appears in the results.
    code, out, _ = _search(capsys, db, model, str(paths[1]), str(paths[2]), "--json")
    assert code == 0 and {str(paths[1]), str(paths[2])}.isdisjoint(r["path"] for r in json.loads(out))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--weights", "genre=0,mood=0,instrument=0,tempo=0"], "all weights are zero"),
        (["--weights", "genre=loud"], "not a number"),
        (["--weights", "colour=1"], "expected NAME=NUMBER"),
        (["--ref", "tempo"], "bad --ref"),
        (["-k", "0"], "-k must be"),
    ],
)
def test_bad_arguments_are_one_line_errors(indexed, capsys, args, message) -> None:
    db, model, paths = indexed
    code, out, err = _search(capsys, db, model, str(paths[0]), *args)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1


def test_missing_db_empty_library_and_unreadable_query(indexed, tmp_path, capsys) -> None:
    db, model, paths = indexed
    code, _, err = _search(capsys, tmp_path / "none.db", model, str(paths[0]))
    assert code == 2 and "no library at" in err
    from app.core.catalog import Catalog

    Catalog.open(tmp_path / "empty.db").close()
    code, _, err = _search(capsys, tmp_path / "empty.db", model, str(paths[0]))
    assert code == 2 and "no indexed tracks" in err
    bad = tmp_path / "q.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    code, _, err = _search(capsys, db, model, str(bad))
    assert code == 2 and "cannot read query" in err and len(err.strip().splitlines()) == 1
    code, _, err = _search(capsys, db, model, str(tmp_path / "missing.wav"))
    assert code == 2 and "no such file" in err


def test_search_checks_the_library_before_the_query_it_embedded_meanwhile(indexed, tmp_path, capsys) -> None:
    """The query clip is embedded while the library loads: its failure is reported after the
    library's own (a library of another model), and a good clip ranks as the library API does."""
    from app.core.catalog import Catalog
    from app.core.library import Library
    from app.core.query import SearchError
    from model.encoder import Encoder

    db, model, paths = indexed
    other = make_model(tmp_path / "other.pt", seed=1)
    bad = tmp_path / "q.wav"
    bad.write_bytes(b"RIFF....WAVEjunk")
    code, _, err = _search(capsys, db, other, str(bad))
    assert code == 2 and "indexed with another model" in err and len(err.strip().splitlines()) == 1
    code, out, _ = _search(capsys, db, model, str(paths[2]), "-k", "4", "--json")
    assert code == 0
    catalog = Catalog.open(db, create=False)
    try:
        library = Library(catalog, Encoder.load(model))
        want = [r.to_json() for r in library.search(library.prepare_query(str(paths[2])), k=4)]
        with pytest.raises(SearchError):
            library.prepare_query(str(bad))
    finally:
        catalog.close()
    assert json.loads(out) == json.loads(json.dumps(want))


def _count_ok(db: Path) -> int:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            return con.execute("SELECT count(*) FROM tracks WHERE status='ok'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0


def test_kill_9_mid_index_then_resume(tmp_path) -> None:
    model = make_model(tmp_path / "m.pt")
    music = tmp_path / "music"
    music.mkdir()
    n = 16
    for i in range(n):
        write_audio(music / f"t{i:02d}.wav", music_like(6.0, seed=i))  # 2 windows each
    db = tmp_path / "lib.db"
    cmd = [sys.executable, "-m", "app", "index", str(music), "--db", str(db), "--model", str(model),
           "--batch-windows", "2"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while _count_ok(db) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)  # the indexer only; its decode workers must follow
        proc.wait(10)
        killed_at = _count_ok(db)
        assert 2 <= killed_at < n, "the run must be killed mid-way"
        con = sqlite3.connect(db)
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        assert f"{n - killed_at} " in done.stderr.splitlines()[-1]  # only the rest was indexed
        con = sqlite3.connect(db)
        assert con.execute("SELECT count(*), count(DISTINCT path) FROM tracks").fetchone() == (n, n)
        assert con.execute("SELECT count(*) FROM embeddings").fetchone()[0] == n
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        con.close()
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # leave nothing behind if an assert failed
        except ProcessLookupError:
            pass


def test_tag_search_and_instrumental_filter_with_a_tagged_model(tmp_path, capsys) -> None:
    """A model file carrying an auto-tag head: tags in the JSON, --tags without a clip, and
    --instrumental; the untagged model says plainly that it has no tags."""
    import numpy as np

    from model.checkpoint import load_model, save_model
    from model.tags import KEY, TagModel

    plain = make_model(tmp_path / "plain.pt")
    network, info = load_model(plain)
    rng = np.random.default_rng(0)
    head = TagModel(("instrumental", "piano", "rock"), ("vocal", "instrument", "genre"),
                    np.full(3, 0.5, np.float32), rng.normal(size=(8, 256)).astype(np.float32) * 20,
                    np.zeros(8, np.float32), rng.normal(size=(3, 8)).astype(np.float32), np.zeros(3, np.float32))
    tagged = tmp_path / "tagged.pt"
    save_model(tagged, network, info.dims, info.card, extra={KEY: head.to_payload()})
    paths = make_library(tmp_path / "music", n=4, seconds=6)
    db = tmp_path / "lib.db"
    assert main(["index", str(tmp_path / "music"), "--db", str(db), "--model", str(tagged), "--workers", "0"]) == 0
    capsys.readouterr()
    code, out, err = _search(capsys, db, tagged, "--tags", "piano nonsenseword", "--json", "-k", "4")
    assert code == 0 and "nonsenseword" in err
    results = json.loads(out)
    assert len(results) == 4 and all(set(r["tags"]) <= {"instrumental", "piano", "rock"} for r in results)
    assert [r["score"] for r in results] == sorted((r["score"] for r in results), reverse=True)
    code, out, _ = _search(capsys, db, tagged, str(paths[0]), "--instrumental", "--json", "--include-self")
    assert code == 0 and all("instrumental" in r["tags"] for r in json.loads(out))
    code, _, err = _search(capsys, db, tagged)
    assert code == 2 and "QUERY" in err
    plain_db = tmp_path / "plain.db"
    assert main(["index", str(tmp_path / "music"), "--db", str(plain_db), "--model", str(plain), "--workers", "0"]) == 0
    capsys.readouterr()
    code, _, err = _search(capsys, plain_db, plain, "--tags", "piano")
    assert code == 2 and "auto-tags" in err and len(err.strip().splitlines()) == 1


def test_searches_succeed_while_another_process_indexes(tmp_path, capsys) -> None:
    model = make_model(tmp_path / "m.pt")
    music = tmp_path / "music"
    music.mkdir()
    for i in range(40):  # enough batches that the searches overlap the run on a fast machine
        write_audio(music / f"t{i:02d}.wav", music_like(6.0, seed=i))
    db = tmp_path / "lib.db"
    proc = subprocess.Popen([sys.executable, "-m", "app", "index", str(music), "--db", str(db), "--model", str(model),
                             "--batch-windows", "2"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while _count_ok(db) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        searched = 0
        while proc.poll() is None and searched < 3:  # the indexer commits between these reads
            code, out, err = _search(capsys, db, model, str(music / "t00.wav"), "--json", "--include-self")
            assert code == 0, err
            assert json.loads(out) and "Traceback" not in err
            searched += 1
        assert searched > 0, "the index run ended before a search could overlap it"
        assert proc.wait(120) == 0
    finally:
        proc.kill()
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert con.execute("SELECT count(*) FROM tracks WHERE status='ok'").fetchone()[0] == 40
    con.close()
