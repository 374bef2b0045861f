"""The auto-tag head: vocabulary, prediction, thresholds, tag-word queries, model files."""

from __future__ import annotations

import numpy as np
import pytest

from model.checkpoint import load_model, save_model
from model.tags import KEY, TagModel, parse_tag_words, tag_match
from model.training import tag_vocabulary as vocab
from model.training.tag_head import best_thresholds
from model.training.teacher_tags import MSD_TAGS, MTT_TAGS
from tests.model_files import SMALL, make_model


def _model(n_tags: int, seed: int = 0) -> TagModel:
    rng = np.random.default_rng(seed)
    return TagModel(tuple(f"t{i}" for i in range(n_tags)), ("genre",) * n_tags, np.full(n_tags, 0.3, np.float32),
                    0.1 * rng.normal(size=(16, 256)).astype(np.float32), np.zeros(16, np.float32),
                    rng.normal(size=(n_tags, 16)).astype(np.float32), np.zeros(n_tags, np.float32))


def test_vocabulary_has_one_tag_per_idea_in_the_four_groups() -> None:
    assert len(set(vocab.NAMES)) == len(vocab.NAMES)
    assert set(vocab.GROUPS) == {"genre", "mood", "instrument", "vocal"}
    for name in ("rock", "classical", "piano", "strings", "instrumental", "female vocals", "happy"):
        assert name in vocab.NAMES
    assert not {"00s", "80s", "slow", "fast", "female vocalist"} & set(vocab.NAMES)  # era, tempo, duplicates
    msd = np.zeros((1, len(MSD_TAGS)), np.float32)
    mtt = np.zeros((1, len(MTT_TAGS)), np.float32)
    msd[0, MSD_TAGS.index("instrumental")] = 0.8
    mtt[0, MTT_TAGS.index("no vocals")] = 0.4
    target = vocab.targets(msd, mtt)[0]
    assert target[vocab.NAMES.index("instrumental")] == pytest.approx(0.8)  # the largest of 4 sources


def test_truth_takes_the_top_tags_per_group() -> None:
    target = np.zeros((1, len(vocab.NAMES)), np.float32)
    for name, p in (("rock", 0.5), ("pop", 0.3), ("jazz", 0.2), ("sad", 0.04)):
        target[0, vocab.NAMES.index(name)] = p
    on = {vocab.NAMES[i] for i in np.flatnonzero(vocab.truth(target)[0])}
    assert on == {"rock", "pop"}  # two genres at most; sad is below MIN_TRUTH


def test_predict_labels_and_model_file_round_trip(tmp_path) -> None:
    head = _model(5)
    vectors = np.random.default_rng(1).normal(size=(3, 256)).astype(np.float32)
    p = head.predict(vectors)
    assert p.shape == (3, 5) and np.all((p >= 0) & (p <= 1))
    labels = head.labels(np.array([0.9, 0.1, 0.31, 0.6, 0.0], np.float32))
    assert labels == ["t0", "t3"]  # above 0.3, by margin over the threshold, at most 2 genres
    mixed = TagModel(head.names, ("genre", "mood", "mood", "mood", "vocal"),
                     np.array([0.3, 0.3, 0.3, np.inf, 0.3], np.float32), head.w1, head.b1, head.w2, head.b2)
    assert mixed.labels(np.array([0.9, 0.8, 0.7, 0.99, 0.6], np.float32)) == ["t0", "t1", "t2", "t4"]
    assert mixed.searchable_names == ("t0", "t1", "t2", "", "t4")  # t3 was never calibrated
    network, _ = load_model(make_model(tmp_path / "m.pt"))
    save_model(tmp_path / "tagged.pt", network, SMALL, {}, extra={KEY: head.to_payload()})
    _, info = load_model(tmp_path / "tagged.pt")
    assert info.tags is not None and info.tags.names == head.names
    assert info.tags.predict(vectors) == pytest.approx(p, abs=1e-6)
    _, plain = load_model(tmp_path / "m.pt")
    assert plain.tags is None


def test_thresholds_maximise_f1_on_the_calibration_tracks() -> None:
    probabilities = np.array([[0.9], [0.8], [0.7], [0.4], [0.2]], np.float32)
    labels = np.array([[True], [True], [True], [False], [False]])
    assert best_thresholds(probabilities, labels)[0] == pytest.approx(0.7)
    assert best_thresholds(probabilities, labels & (probabilities > 0.75))[0] == np.inf  # 2 positives: a guess


def test_tag_words_and_match() -> None:
    names = ("piano", "chill", "mellow", "female vocals", "rock")
    groups, unknown = parse_tag_words("Calm piano, female-vocals xyzzy", names)
    assert groups == [["chill", "mellow"], ["piano"], ["female vocals"]]
    assert unknown == ["xyzzy"]
    p = np.array([[0.9, 0.0, 0.8, 0.0, 0.0], [0.9, 0.0, 0.0, 0.0, 0.9], [0.0, 0.0, 0.9, 0.0, 0.0]], np.float32)
    score = tag_match(p, np.full(5, 0.3, np.float32), [[1, 2], [0]])  # (chill or mellow) and piano
    assert score[0] > score[1] and score[0] > score[2]
    assert tag_match(p, np.full(5, 0.3), []) == pytest.approx(np.zeros(3))
