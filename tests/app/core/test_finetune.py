"""The one fine-tuning workflow (app.core.finetune) that `soundalike train` and the app run."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from mutagen.flac import FLAC

from app.core import finetune
from app.core.model_registry import training_dir
from model.checkpoint import load_model, new_untrained_model, save_model, untrained_card
from model.network import ModelDims
from model.onnx_encoder import load_onnx_encoder
from tests.model.labeled_clips import write_corpus

TINY = ModelDims(stem_channels=8, widths=(8, 8, 16, 16, 16, 16))


def test_labels_from_tags_folders_csv_and_none(tmp_path: Path) -> None:
    for i, (genre, bpm) in enumerate([("Rock", "120"), ("Jazz; Swing", "90"), ("Rock", ""), ("", "")]):
        path = tmp_path / "lib" / ("rock" if i % 2 == 0 else "jazz") / f"t{i}.flac"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, np.zeros(2205, np.float32), 22050)
        tags = FLAC(path)
        if genre:
            tags["genre"] = genre
        if bpm:
            tags["bpm"] = bpm
        tags.save()
    lib = tmp_path / "lib"
    found = finetune.gather_labels(lib, "tags")
    by_name = {t.path.name: t for t in found.labels}
    assert found.mode == "triplet" and "file tags" in found.description and found.labelled == 3
    assert by_name["t0.flac"].genre == {"rock"} and by_name["t0.flac"].bpm == 120.0
    assert by_name["t1.flac"].genre == {"jazz", "swing"} and not by_name["t3.flac"].has_labels
    assert finetune.gather_labels(lib, "auto").description == found.description  # no labels.csv: tags
    folders = finetune.gather_labels(lib, "folders")
    assert {t.path.name: t.genre for t in folders.labels}["t1.flac"] == {"jazz"}
    assert finetune.summarize(folders.labels)["genre"] == {"rock": 2, "jazz": 2}
    free = finetune.gather_labels(lib, "label-free")
    assert free.mode == "label-free" and free.labelled == 0 and free.notes == []
    (lib / "labels.csv").write_text("path,genre\n" + "".join(f"{p},pop\n" for p in sorted(lib.rglob("*.flac")))
                                    + "/gone.flac,pop\n")  # fmt: skip
    csv = finetune.gather_labels(lib, "auto")
    assert "labels from" in csv.description and len(csv.labels) == 4 and "do not exist" in csv.notes[0]
    with pytest.raises(finetune.FinetuneError, match="at least 4"):
        finetune.gather_labels(tmp_path / "lib" / "rock", "tags")
    with pytest.raises(finetune.FinetuneError, match="not a folder"):
        finetune.gather_labels(tmp_path / "nowhere", "folders")


def test_fine_tuning_config_starts_at_the_lower_learning_rate(tmp_path: Path) -> None:
    found = finetune.LabelSet([], "triplet", "")
    assert finetune.configure(found, fine_tuning=True).lr == finetune.FINE_TUNE_LR
    assert finetune.configure(found, fine_tuning=False).lr == 0.01
    assert finetune.configure(found, fine_tuning=True, lr=0.05, epochs=3).max_epochs == 3


def test_cancel_keeps_the_best_epoch_as_a_loadable_model(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SOUNDALIKE_DATA_DIR", str(tmp_path / "userdata"))
    corpus = write_corpus(tmp_path / "music", n=16, seed=2)
    start = tmp_path / "start.pt"
    save_model(start, new_untrained_model(0, TINY), TINY, untrained_card(0))
    found = finetune.gather_labels(corpus.parent, "csv", csv=corpus)
    config = finetune.configure(found, fine_tuning=True, epochs=5, steps_per_epoch=1, workers=0)
    output = tmp_path / "models" / "tuned.pt"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        job = finetune.run(found, config, output, init_model=start)
        for progress in job:
            if progress.val_accuracy:  # the first epoch is validated: cancel
                job.close()
                break
    finally:
        torch.set_num_threads(threads)
    network, info = load_model(output)
    assert info.card["cancelled"] is True and info.card["epochs"] == 1
    assert set(info.card["validation_after"]) >= {"genre", "track"} and output.with_suffix(".card.json").exists()
    assert load_onnx_encoder(output) is not None  # the kept epoch has its ONNX twin too
    state = torch.load(training_dir(output) / "best.pt", weights_only=True)
    assert all(torch.equal(network.state_dict()[k], v) for k, v in state["state_dict"].items())
    assert state["dims"] == asdict(TINY)  # the checkpoints stay: the run can be resumed


def test_cancel_before_the_first_epoch_writes_nothing(tmp_path: Path) -> None:
    found = finetune.LabelSet([], "triplet", "")
    output = tmp_path / "m.pt"
    assert not finetune.keep_best(output, found, finetune.configure(found, fine_tuning=False))
    assert not output.exists()
