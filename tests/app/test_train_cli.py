"""``soundalike train`` / ``soundalike evaluate`` end to end on a tiny synthetic set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from app.cli import main
from app.core.model_registry import DEFAULT_MODEL
from model.checkpoint import load_model, new_untrained_model, save_model, untrained_card
from model.network import ModelDims
from model.onnx_encoder import load_onnx_encoder, onnx_path, source_model_id
from tests.model.labeled_clips import write_corpus

TINY = ModelDims(stem_channels=8, widths=(8, 8, 16, 16, 16, 16))


@pytest.fixture
def corpus(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SOUNDALIKE_DATA_DIR", str(tmp_path / "userdata"))
    monkeypatch.delenv("SOUNDALIKE_MODEL", raising=False)
    return write_corpus(tmp_path / "music", n=16, seed=2)


def test_train_refuses_to_overwrite_the_shipped_model(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(corpus.parent), "-o", str(DEFAULT_MODEL)]) == 2
    assert "refusing to overwrite the shipped model" in capsys.readouterr().err
    assert main(["train", str(corpus.parent), "--resume"]) == 2
    assert "--resume needs -o" in capsys.readouterr().err


def test_train_then_evaluate(corpus: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = tmp_path / "start.pt"
        save_model(start, new_untrained_model(0, TINY), TINY, untrained_card(0))
        out = tmp_path / "tuned.pt"
        status = main(["train", str(corpus.parent), "--csv", str(corpus), "--from", str(start), "--epochs", "1",
                       "--steps-per-epoch", "2", "--workers", "0", "-o", str(out)])  # fmt: skip
        captured = capsys.readouterr()
        assert status == 0, captured.err
        assert f"wrote {out}" in captured.out and "genre" in captured.out
        _, info = load_model(out)
        assert info.card["epochs"] == 1 and info.card["init_model"] == str(start)
        assert "labels from" in info.card["data"] and set(info.card["validation_after"]) >= {"genre", "track"}
        assert json.loads(out.with_suffix(".card.json").read_text())["mode"] == "triplet"
        # its ONNX twin beside it, made from it: searches with it skip torch
        assert source_model_id(onnx_path(out)) == info.model_id and load_onnx_encoder(out) is not None
        assert "notes" not in info.card and "ONNX" not in captured.err
        assert (tmp_path / "userdata" / "cache").is_dir()  # decoded once, reused by later runs

        status = main(["evaluate", "--data", str(corpus), "--model", str(out), "--baselines",
                       "--triplets", "20", "--json"])  # fmt: skip
        captured = capsys.readouterr()
        assert status == 0, captured.err
        report = json.loads(captured.out)
        models = {(row["space"], row["model"]) for row in report["rows"]}
        assert ("Sub-dimensions", "tuned.pt") in models and ("All-dimensions", "untrained network") in models
        assert any(m.startswith("MFCC-VQ") for _, m in models)
        assert report["triplets"]["track"] == 20
    finally:
        torch.set_num_threads(threads)
