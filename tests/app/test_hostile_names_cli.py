"""File names a user's disk really holds, through `soundalike index` and `search --json`."""

from __future__ import annotations

import json
import os
import unicodedata

from app.cli import main
from tests.app.library_helpers import make_model
from tests.synth_audio import music_like, write_audio

NAMES = [
    b"caf\xe9.wav",  # Latin-1 (old collections, shared drives): not UTF-8
    b"two\nlines.wav",
    b"--json.wav",
    b"y" * 251 + b".wav",  # 255 bytes
    unicodedata.normalize("NFC", "\u00e9t\u00e9.wav").encode(),
    unicodedata.normalize("NFD", "\u00e9t\u00e9.wav").encode(),
]


def test_every_name_is_indexed_and_json_paths_round_trip_to_the_bytes(tmp_path, capsys) -> None:
    music = os.fsencode(tmp_path / "music") + b"/" + b"/".join([b"deep"] * 40)
    os.makedirs(music)
    for i, name in enumerate(NAMES):
        os.rename(write_audio(tmp_path / "clip.wav", music_like(6.0 + i, seed=i)), music + b"/" + name)
    model, db = make_model(tmp_path / "m.pt"), str(tmp_path / "lib.db")
    assert main(["index", str(tmp_path / "music"), "--db", db, "--model", str(model), "--workers", "0"]) == 0
    assert f"{len(NAMES)} added" in capsys.readouterr().err
    query = os.fsdecode(music + b"/" + NAMES[0])
    assert main(["search", query, "--db", db, "--model", str(model), "--json", "-k", "10",
                 "--include-self"]) == 0
    found = {os.fsencode(r["path"]) for r in json.loads(capsys.readouterr().out)}
    assert found == {music + b"/" + name for name in NAMES}
    assert main(["search", query, "--db", db, "--model", str(model), "-k", "10"]) == 0
    table = capsys.readouterr().out
    assert "caf\\xe9.wav" not in table  # the query itself is left out ...
    assert "two\\nlines.wav" in table and len(table.splitlines()) == len(NAMES)  # ... one line each
