"""One model choice for the CLI and the app: the model that indexed the library wins."""

from __future__ import annotations

import json

from app.cli import main
from app.core import model_registry
from app.core.catalog import Catalog
from model.model_id import model_id_of
from tests.app.library_helpers import make_library, make_model


def test_bare_search_uses_the_model_that_indexed_the_library(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.delenv("SOUNDALIKE_MODEL", raising=False)
    tuned = make_model(tmp_path / "models" / "tuned.pt", seed=3)  # not the shipped default
    paths = make_library(tmp_path / "music", n=3, seconds=6)
    db = str(tmp_path / "lib.db")
    assert main(["index", str(tmp_path / "music"), "--db", db, "--model", str(tuned), "--workers", "0"]) == 0
    capsys.readouterr()
    assert main(["search", str(paths[0]), "--db", db, "--json"]) == 0  # no --model
    assert len(json.loads(capsys.readouterr().out)) == 2
    with Catalog.open(db) as catalog:  # the app makes the same choice when nothing is saved
        indexed, hints = catalog.indexing_models()
    assert model_registry.resolve_model(indexed=indexed, hints=hints, identify=model_id_of).path == tuned
    assert model_registry.resolve_model(saved=str(tuned)).path == tuned

    tuned.rename(tmp_path / "elsewhere.pt")  # the library's model is gone: say what to pass
    assert main(["search", str(paths[0]), "--db", db]) == 2
    err = capsys.readouterr().err
    assert "indexed with model" in err and "--model" in err and str(tuned) in err
    assert main(["search", str(paths[0]), "--db", db, "--model", str(tmp_path / "elsewhere.pt")]) == 0
