"""The trainer end to end on audible synthetic labels: it learns, checkpoints, resumes, cancels."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import torch

from model.checkpoint import load_model
from model.labels import read_labels_csv
from model.network import CSNInception, ModelDims
from model.train import TrainConfig, fit, load_grown, run_to_end
from tests.model.labeled_clips import write_corpus

TINY = {"stem_channels": 8, "widths": (8, 8, 16, 16, 16, 16)}
CONFIG = TrainConfig(max_epochs=4, steps_per_epoch=8, tracks_per_batch=12, num_workers=0,
                     decode_workers=1, val_triplets=60, dims=TINY, seed=0)  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("clips"), n=32, seed=0)


@pytest.mark.slow  # ~12 CPU-seconds: the one test that shows the trainer learns
def test_training_improves_held_out_triplets(corpus: Path, tmp_path: Path) -> None:
    labels = read_labels_csv(corpus)
    result = run_to_end(fit(labels, tmp_path / "run", CONFIG, output=tmp_path / "model.pt",
                            cache_dir=tmp_path / "cache"))  # fmt: skip
    before, after = result.before, result.after
    assert after["loss"] < 0.8 * before["loss"]
    assert after["overall"] + after["track"] > before["overall"] + before["track"] + 0.1
    network, info = load_model(tmp_path / "model.pt")
    assert info.card["validation_before"] == before and info.card["validation_after"] == after
    assert info.card["epochs"] == result.epochs and info.card["hardware"]
    assert (tmp_path / "run" / "best.pt").exists()


def _weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, weights_only=True)["state_dict"]


def test_cancel_then_resume_equals_an_uninterrupted_run(corpus: Path, tmp_path: Path) -> None:
    labels = read_labels_csv(corpus)
    config = replace(CONFIG, max_epochs=2, steps_per_epoch=3, tracks_per_batch=8, checkpoint_every=1,
                     val_triplets=20)  # fmt: skip
    cache = tmp_path / "cache"
    run_to_end(fit(labels, tmp_path / "straight", config, cache_dir=cache))

    job = fit(labels, tmp_path / "resumed", config, cache_dir=cache)
    for progress in job:  # cancel in the middle of the second epoch, as a GUI would
        if progress.phase == "train" and progress.epoch == 1 and progress.step == 2:
            job.close()
    assert (tmp_path / "resumed" / "best.pt").exists()  # cancelling keeps the best checkpoint
    assert torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)["step"] == 1
    run_to_end(fit(labels, tmp_path / "resumed", config, cache_dir=cache, resume=True))

    straight, resumed = _weights(tmp_path / "straight" / "last.pt"), _weights(tmp_path / "resumed" / "last.pt")
    assert straight.keys() == resumed.keys()
    for name in straight:
        torch.testing.assert_close(resumed[name], straight[name], rtol=0, atol=1e-6)


def test_label_free_mode_trains_without_labels(corpus: Path, tmp_path: Path) -> None:
    labels = [replace(t, genre=frozenset(), mood=frozenset(), instrument=frozenset(), bpm=None)
              for t in read_labels_csv(corpus)]  # fmt: skip
    config = replace(CONFIG, mode="label-free", max_epochs=1, steps_per_epoch=2, val_triplets=20)
    progress = list(fit(labels, tmp_path / "run", config, cache_dir=tmp_path / "cache"))
    losses = [p.loss for p in progress if p.phase == "train" and p.loss is not None]
    assert losses and all(loss == loss for loss in losses)  # finite, not NaN
    assert set(progress[-1].val_accuracy) == {"track", "loss"}


def test_resume_into_a_grown_network_starts_a_new_stage(corpus: Path, tmp_path: Path) -> None:
    """A checkpoint of the paper's network resumes into the network with the tempo branch:
    trunk weights kept, the branch starts fresh, and the reverse is refused."""
    labels = read_labels_csv(corpus)
    paper = replace(CONFIG, max_epochs=1, steps_per_epoch=2, tracks_per_batch=8, val_triplets=20,
                    dims={**TINY, "tempo_lags": 0})  # fmt: skip
    cache, workdir = tmp_path / "cache", tmp_path / "run"
    run_to_end(fit(labels, workdir, paper, cache_dir=cache))
    trunk = _weights(workdir / "last.pt")

    grown = replace(paper, max_epochs=2, dims=TINY)
    messages = [p.message for p in fit(labels, workdir, grown, cache_dir=cache, resume=True) if p.message]
    assert any("new network parts ['tempo']: new stage" in m for m in messages)
    weights = _weights(workdir / "last.pt")
    assert any(k.startswith("tempo.") for k in weights) and trunk.keys() < weights.keys()

    with pytest.raises(RuntimeError, match="lacks"):
        load_grown(CSNInception(ModelDims(**{**TINY, "tempo_lags": 0})), weights)


def test_distillation_trains_block_heads_from_teacher_targets_and_resumes(corpus: Path, tmp_path: Path) -> None:
    """Real music has no genre labels: teacher targets stand in (here one random tag profile
    per hidden genre); the run uses them, checkpoints its heads, and resumes with them."""
    import numpy as np

    from model.training.distill import TAG_BLOCKS, BlockHeads, TeacherTargets

    labels = read_labels_csv(corpus)
    rng = np.random.default_rng(0)
    sizes = {b: h.out_features for b, h in BlockHeads.for_teacher().heads.items()}
    profiles = {}
    per_row = []
    for t in labels:
        key = tuple(sorted(t.genre))
        profiles.setdefault(key, {b: rng.random(n).astype(np.float32) for b, n in sizes.items()})
        per_row.append(profiles[key])
    unlabelled = [replace(t, genre=frozenset()) for t in labels]
    teacher = TeacherTargets.build(per_row)
    config = replace(CONFIG, max_epochs=1, steps_per_epoch=3, tracks_per_batch=8, val_triplets=20)
    progress = list(fit(unlabelled, tmp_path / "run", config, cache_dir=tmp_path / "cache", teacher=teacher))
    assert all(p.loss == p.loss for p in progress if p.loss is not None)
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert {k.split(".")[1] for k in state["heads"]} == set(TAG_BLOCKS)
    again = fit(unlabelled, tmp_path / "run", replace(config, max_epochs=2), cache_dir=tmp_path / "cache",
                resume=True, teacher=teacher)
    resumed = next(p for p in again if "resumed" in p.message)
    assert "new stage" not in resumed.message  # the heads came back with the weights
    run_to_end(again)
