"""The evaluation table: seeded triplets, correct scoring (an oracle scores 1.0), baseline rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.audio import WINDOW_SAMPLES, load_audio
from model.baselines import fit_vq_baseline
from model.checkpoint import new_untrained_model
from model.dimensions import BLOCK_SIZE, DIMENSIONS
from model.evaluate import NetworkEmbedder, VQEmbedder, evaluate, held_out, plan_triplets
from model.labels import read_labels_csv
from model.network import ModelDims
from model.train import run_to_end
from tests.model.labeled_clips import INSTRUMENTS, REGISTERS, TEMPI, write_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("clips"), n=24, seed=1)


class OracleEmbedder:
    """Knows each file's labels: blocks are one-hot labels, excerpts one-hot track identity."""

    name = "oracle"
    sub_dimensions = True

    def __init__(self, labels) -> None:
        self.audio = [load_audio(t.path) for t in labels]
        self.labels = labels

    def _which(self, samples: np.ndarray) -> int:
        loud = int(np.argmax(np.abs(samples[:-64])))  # clips start silent: match a loud stretch
        for i, audio in enumerate(self.audio):
            view = np.lib.stride_tricks.sliding_window_view(audio, 64)
            if np.any(np.all(view == samples[loud : loud + 64], axis=1)):
                return i
        raise AssertionError("excerpt of no known track")

    def track(self, samples: np.ndarray) -> np.ndarray:
        t = self.labels[self._which(samples)]
        v = np.zeros((len(DIMENSIONS), BLOCK_SIZE), np.float32)
        v[0, list(REGISTERS).index(next(iter(t.genre)))] = 1
        v[1, 0] = 1  # mood is unknown in this corpus
        v[2, INSTRUMENTS.index(next(iter(t.instrument)))] = 1
        v[3, int(np.argmin([abs(t.bpm - b) for b in TEMPI]))] = 1
        return v.ravel()

    def excerpts(self, windows: np.ndarray) -> np.ndarray:
        out = np.zeros((len(windows), 256), np.float32)
        for k, w in enumerate(windows):
            out[k, self._which(w)] = 1
        return out


def test_plan_is_seeded_and_held_out(corpus: Path) -> None:
    tracks, note = held_out(read_labels_csv(corpus))
    assert all(t.split == "val" for t in tracks) and "'val'" in note
    a, b = plan_triplets(tracks, 40, seed=5), plan_triplets(tracks, 40, seed=5)
    assert a.category == b.category and a.track == b.track
    assert a.category["mood"] == [] and any("mood" in n for n in a.notes)
    assert all(abs(sa - sp) >= WINDOW_SAMPLES // 2 for _, sa, sp, *_ in a.track)


def test_oracle_scores_one_and_baselines_fill_the_table(corpus: Path) -> None:
    labels = read_labels_csv(corpus)
    tracks, _ = held_out(labels)
    plan = plan_triplets(tracks, 30, seed=0)
    vq = fit_vq_baseline(load_audio(t.path) for t in labels if t.split == "train")
    assert vq.size < 1024 and "instead of 1024" in vq.note  # too few frames: said, not hidden
    untrained = NetworkEmbedder("untrained", new_untrained_model(0, ModelDims(stem_channels=8, widths=(8,) * 6)))
    report = run_to_end(evaluate(plan, [OracleEmbedder(tracks), VQEmbedder(vq), untrained]))

    rows = {(r["space"], r["model"]): r for r in report.rows}
    assert set(rows) == {
        ("All-dimensions", "oracle"), ("All-dimensions", vq_name := f"MFCC-VQ (K={vq.size})"),
        ("All-dimensions", "untrained"), ("Sub-dimensions", "oracle"), ("Sub-dimensions", "untrained"),
    }  # fmt: skip
    oracle = rows["Sub-dimensions", "oracle"]
    assert oracle["genre"] == oracle["instrument"] == oracle["tempo"] == 1.0 and oracle["mood"] is None
    assert rows["All-dimensions", "oracle"]["track"] == 1.0
    for row in report.rows:
        for key in (*DIMENSIONS, "overall", "track"):
            assert row[key] is None or 0.0 <= row[key] <= 1.0
    table = report.format_table()
    assert "Sub-dimensions" in table and vq_name in table and "Track" in table
    assert report.counts["track"] == 30 and report.to_json()["rows"] == report.rows


def test_an_unreadable_file_drops_its_triplets_not_the_run(corpus: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(corpus.parent, tmp_path / "copy")
    tracks, _ = held_out(read_labels_csv(tmp_path / "copy" / "labels.csv"))
    plan = plan_triplets(tracks, 10, seed=0)
    tracks[0].path.unlink()
    tiny = NetworkEmbedder("tiny", new_untrained_model(0, ModelDims(stem_channels=8, widths=(8,) * 6)))
    report = run_to_end(evaluate(plan, [tiny]))
    assert any("no such file" in note for note in report.notes)
    assert report.counts["track"] < 10 or all(0 not in (t, o) for t, _, _, o, _, _ in plan.track)
    assert all(0 not in triplet for triplet in plan.category["genre"]) or report.counts["genre"] < len(plan.category["genre"])
