"""Distillation: teacher pair matrices, their merge with label rules, block heads, leakage."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.dimensions import BLOCK_SIZE, DIMENSIONS
from model.training.distill import (
    TAG_BLOCKS,
    BlockHeads,
    TeacherTargets,
    block_targets,
    merge_pairs,
    track_targets,
)
from model.training.leakage import leakage_matrix, probe_r2
from model.training.teacher_tags import MSD_TAGS, MTT_TAGS


def _teacher_rows(rng: np.random.Generator, n: int, clusters: int = 6) -> list[dict[str, np.ndarray]]:
    """Tracks drawn from a few teacher 'styles': same style -> similar tag vectors."""
    styles = rng.random((clusters, len(MSD_TAGS))), rng.random((clusters, len(MTT_TAGS)))
    rows = []
    for i in range(n):
        c = i % clusters
        msd = styles[0][c] + 0.05 * rng.random(len(MSD_TAGS))
        mtt = styles[1][c] + 0.05 * rng.random(len(MTT_TAGS))
        rows.append(block_targets(msd[None], mtt[None]))
        rows[-1] = {b: v[0] for b, v in rows[-1].items()}
    return rows


def test_teacher_pairs_follow_teacher_similarity_and_skip_same_track_and_unknown() -> None:
    rng = np.random.default_rng(0)
    per_row = _teacher_rows(rng, 30) + [None, None]  # two rows without teacher tags
    teacher = TeacherTargets.build(per_row)
    rows = np.array([0, 0, 6, 6, 1, 1, 30, 30])  # rows 0 and 6 share a style, 1 differs
    track_ids = np.array([0, 0, 1, 1, 2, 2, 3, 3])
    pos, neg = teacher.pair_matrices(rows, track_ids)
    for block in TAG_BLOCKS:
        k = DIMENSIONS.index(block)
        assert pos[k, 0, 2] and not neg[k, 0, 2]  # same style
        assert neg[k, 0, 4] and not pos[k, 0, 4]  # other style
        assert not pos[k, 0, 1] and not neg[k, 0, 1]  # excerpts of one track
        assert not pos[k, 6].any() and not neg[k, 6].any()  # no teacher tags
    tempo = DIMENSIONS.index("tempo")
    assert not pos[tempo].any() and not neg[tempo].any()


def test_labels_decide_the_pairs_they_know() -> None:
    label_pos = np.zeros((4, 3, 3), bool)
    label_neg = np.zeros((4, 3, 3), bool)
    label_neg[0, 0, 1] = True  # labels say: different genre
    teacher_pos = np.ones((4, 3, 3), bool)
    teacher_neg = np.zeros((4, 3, 3), bool)
    pos, neg = merge_pairs((label_pos, label_neg), (teacher_pos, teacher_neg))
    assert neg[0, 0, 1] and not pos[0, 0, 1]  # the label wins
    assert pos[0, 0, 2]  # undecided by labels: the teacher's call


def test_block_heads_train_only_their_own_block() -> None:
    heads = BlockHeads.for_teacher()
    embeddings = torch.randn(6, 256, requires_grad=True)
    rng = np.random.default_rng(1)
    targets = TeacherTargets.build(_teacher_rows(rng, 6)).batch_targets(np.arange(6))
    known = torch.tensor([True, True, True, False, True, True])
    heads.loss(embeddings, targets, known).backward()
    grad = embeddings.grad.reshape(6, len(DIMENSIONS), BLOCK_SIZE)
    assert grad[:, DIMENSIONS.index("tempo")].abs().sum() == 0  # tempo learns no tags
    assert grad[3].abs().sum() == 0  # an item without teacher tags gets no head gradient
    for block in TAG_BLOCKS:
        assert grad[:, DIMENSIONS.index(block)].abs().sum() > 0


def test_track_targets_use_the_cached_middle_and_drop_silence(tmp_path) -> None:
    n = 40  # 40 segments ~ 120 s
    msd = np.zeros((n, len(MSD_TAGS)), np.float32)
    mtt = np.zeros((n, len(MTT_TAGS)), np.float32)
    msd[:, MSD_TAGS.index("rock")] = np.where(np.arange(n) < 10, 1.0, 0.0)  # rock only at the start
    rms = np.full(n, 0.1, np.float32)
    rms[20] = 0.0
    msd[20, MSD_TAGS.index("jazz")] = 1.0  # a silent segment's guess
    cache = tmp_path / "t.npz"
    np.savez(cache, msd=msd, mtt=mtt, start_s=np.arange(n) * 2.992, rms=rms)
    middle = track_targets(cache, max_seconds=60.0)  # 30 s .. 90 s of ~120 s
    genre = block_targets(msd, mtt)["genre"]
    rock = int(np.argmax(genre[0]))
    assert middle["genre"][rock] == pytest.approx(0.0)  # the start is outside the cached middle
    assert middle["genre"].max() == pytest.approx(0.0)  # and the silent jazz guess is dropped
    whole = track_targets(cache, max_seconds=200.0)
    assert whole["genre"][rock] == pytest.approx(10 / 39, abs=1e-5)


def test_leakage_probe_separates_own_from_other_blocks() -> None:
    rng = np.random.default_rng(2)
    n = 300
    genre_tags, mood_tags = rng.random((n, 5)), rng.random((n, 4))
    vectors = rng.normal(size=(n, 256)) * 0.1
    vectors[:, :5] += genre_tags * 3  # the genre block carries genre tags
    vectors[:, BLOCK_SIZE : BLOCK_SIZE + 4] += mood_tags * 3  # the mood block carries mood tags
    matrix = leakage_matrix(vectors, {"genre": genre_tags, "mood": mood_tags})
    assert matrix["genre"]["genre"] > 0.5 and matrix["mood"]["mood"] > 0.5
    assert matrix["genre"]["mood"] < 0.1 and matrix["mood"]["genre"] < 0.1
    assert probe_r2(rng.normal(size=(n, 8)), rng.normal(size=(n, 2))) < 0.05  # noise predicts nothing


def test_teacher_agreement_is_high_for_a_block_that_follows_the_teacher() -> None:
    from model.training.teacher_eval import teacher_agreement

    rng = np.random.default_rng(3)
    n = 120
    targets = {b: rng.random((n, 6)).astype(np.float32) for b in TAG_BLOCKS}
    vectors = rng.normal(size=(n, 256)).astype(np.float32)
    genre = DIMENSIONS.index("genre") * BLOCK_SIZE
    vectors[:, genre : genre + 6] = (targets["genre"] - targets["genre"].mean(0)) * 10  # genre block = teacher
    agreement = teacher_agreement(vectors, targets, n=600)
    assert agreement["genre"] > 0.9
    assert abs(agreement["mood"] - 0.5) < 0.1  # random blocks: chance


def test_precision_at_10_against_the_teachers_top_tag() -> None:
    from model.training.teacher_eval import precision_at_k

    rng = np.random.default_rng(4)
    n = 60
    top = np.repeat(np.arange(3), 20)
    targets = {b: np.eye(3, dtype=np.float32)[top] + 0.01 * rng.random((n, 3)).astype(np.float32) for b in TAG_BLOCKS}
    vectors = rng.normal(size=(n, 256)).astype(np.float32)
    vectors[:, :3] += np.eye(3)[top] * 20  # the genre block clusters by the teacher's top genre
    result = precision_at_k(vectors, targets)
    assert result["genre"][0] > 0.95 and result["genre"][1] == pytest.approx(1 / 3)
    assert result["mood"][0] < 0.6
