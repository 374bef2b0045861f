"""Training batches: two excerpts per track, and the time-stretched ones left out of tempo pairs."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from model.audio import SAMPLE_RATE, WINDOW_SAMPLES
from model.datasets import PairBatches, ensure_cache
from model.dimensions import DIMENSIONS
from model.labels import TrackLabels
from model.samplers import label_arrays, pair_matrices

N_TRACKS = 6


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory):
    """Six 8-s clicks tracks at different tempi (a click every 60/bpm s)."""
    root = tmp_path_factory.mktemp("tracks")
    paths = []
    for i in range(N_TRACKS):
        wave = np.zeros(8 * SAMPLE_RATE, np.float32)
        period = int(SAMPLE_RATE * 60 / (80 + 20 * i))
        wave[::period] = 0.8
        paths.append(root / f"t{i}.wav")
        sf.write(paths[-1], wave, SAMPLE_RATE)
    return ensure_cache(paths, root / "cache", max_seconds=8.0)


def batches(cache, stretch: float) -> PairBatches:
    n = len(cache.tracks)
    return PairBatches(cache, range(n), range(n), tracks_per_batch=n, steps=8, seed=0, epoch=0, stretch=stretch)


def test_stretch_changes_only_second_excerpts_of_about_half_the_tracks(cache) -> None:
    items = [batches(cache, 0.08)[i] for i in range(8)]
    flags = np.concatenate([b["stretched"].numpy() for b in items])
    assert not flags[0::2].any()  # the first excerpt of a pair is never stretched
    assert 0.25 < flags[1::2].mean() < 0.75
    for b in items:
        assert b["waves"].shape == (2 * N_TRACKS, WINDOW_SAMPLES)
        assert np.isfinite(b["waves"].numpy()).all()


def test_stretched_excerpt_is_the_same_music_at_another_speed(cache) -> None:
    """Seeded alike, a batch with and without stretch draws the same excerpts; a stretched one
    has its clicks closer together (faster) or further apart (slower)."""
    plain, stretched = batches(cache, 0.0)[0], batches(cache, 0.3)[0]
    for i in np.flatnonzero(stretched["stretched"].numpy()):
        assert not np.allclose(plain["waves"][i], stretched["waves"][i])
    unstretched = ~stretched["stretched"].numpy()
    assert unstretched[0::2].all()
    np.testing.assert_array_equal(plain["waves"][0::2], stretched["waves"][0::2])


def test_no_stretch_means_no_flags(cache) -> None:
    assert not batches(cache, 0.0)[0]["stretched"].any()


def test_stretched_items_take_part_in_no_tempo_pair() -> None:
    labels = [TrackLabels(f"{i}.wav", bpm=100.0 + (i // 2) * 2) for i in range(8)]
    rows, track_ids = np.arange(8), np.arange(8) // 2
    unknown = np.array([False, True] * 4)
    pos, neg = pair_matrices(label_arrays(labels), rows, track_ids, unknown)
    tempo = DIMENSIONS.index("tempo")
    assert not pos[tempo][unknown].any() and not pos[tempo][:, unknown].any()
    assert not neg[tempo][unknown].any() and not neg[tempo][:, unknown].any()
    assert pos[tempo][~unknown][:, ~unknown].any()


def test_weights_make_the_favoured_tracks_likelier(cache) -> None:
    n = len(cache.tracks)
    weights = np.where(np.arange(n) < 2, 4.0, 1.0)  # two favoured of six
    drawn = PairBatches(cache, range(n), range(n), tracks_per_batch=2, steps=200, seed=0, epoch=0, weights=weights)
    rows = np.concatenate([drawn[i]["rows"].numpy()[0::2] for i in range(200)])
    assert np.isin(rows, [0, 1]).mean() > 0.6  # uniform: 1/3


def test_teacher_weights_give_the_tagged_rows_their_share() -> None:
    from model.train import teacher_weights
    from model.training.distill import TeacherTargets

    known = np.arange(100) % 5 == 0  # 20 % tagged
    teacher = TeacherTargets({}, known, {}, {})
    weights = teacher_weights(teacher, range(100), 0.5)
    assert weights[known].sum() / weights.sum() == pytest.approx(0.5)
    assert teacher_weights(None, range(100), 0.5) is None
    assert teacher_weights(teacher, range(100), None) is None  # uniform
    assert teacher_weights(TeacherTargets({}, np.ones(100, bool), {}, {}), range(100), 0.5) is None
