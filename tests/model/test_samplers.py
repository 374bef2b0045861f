"""Triplet rules: positives share a tag / tempo within 5 BPM, negatives do not; excerpts overlap <= 50 %."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from model.dimensions import DIMENSIONS
from model.labels import TrackLabels, labels_from_folders, read_labels_csv, write_labels_csv
from model.samplers import (
    CategoryTripletSampler,
    excerpt_pair,
    label_arrays,
    overlap_fraction,
    pair_matrices,
    sample_track_triplets,
    similar,
)


def _labels(n: int = 60, seed: int = 0) -> list[TrackLabels]:
    rng = np.random.default_rng(seed)
    genres, moods, instruments = ["rock", "jazz", "funk", "folk"], ["calm", "sad", "happy"], ["piano", "guitar"]
    out = []
    for i in range(n):
        unknown = i % 10 == 0  # some tracks know nothing about some dimensions
        out.append(
            TrackLabels(
                path=Path(f"/x/{i}.wav"),
                genre=frozenset(rng.choice(genres, size=int(rng.integers(1, 3)), replace=False)),
                mood=frozenset() if unknown else frozenset([str(rng.choice(moods))]),
                instrument=frozenset([str(rng.choice(instruments))]),
                bpm=None if unknown else float(rng.uniform(60, 180)),
            )
        )
    return out


@pytest.mark.parametrize("dimension", DIMENSIONS)
def test_category_triplets_follow_the_rule(dimension: str) -> None:
    labels = _labels()
    triplets = CategoryTripletSampler(labels).sample_many(dimension, 300, seed=1)
    assert len(triplets) == 300
    for a, p, n in triplets:
        assert len({a, p, n}) == 3
        assert labels[a].knows(dimension) and labels[p].knows(dimension) and labels[n].knows(dimension)
        if dimension == "tempo":
            assert abs(labels[a].bpm - labels[p].bpm) <= 5.0
            assert abs(labels[a].bpm - labels[n].bpm) > 5.0
        else:
            assert labels[a].tags(dimension) & labels[p].tags(dimension)
            assert not labels[a].tags(dimension) & labels[n].tags(dimension)


def test_sampling_is_seeded() -> None:
    sampler = CategoryTripletSampler(_labels())
    assert sampler.sample_many("genre", 50, seed=3) == sampler.sample_many("genre", 50, seed=3)
    assert sampler.sample_many("genre", 50, seed=3) != sampler.sample_many("genre", 50, seed=4)


def test_impossible_dimension_gives_no_triplets() -> None:
    labels = [TrackLabels(Path(f"/{i}"), mood=frozenset(["calm"])) for i in range(5)]
    assert CategoryTripletSampler(labels).sample_many("mood", 10, seed=0) == []  # no negative exists
    assert CategoryTripletSampler(labels).sample_many("tempo", 10, seed=0) == []  # tempo unknown


def test_excerpt_pairs_overlap_at_most_half() -> None:
    rng = np.random.default_rng(0)
    window = 1000
    for length in (1500, 1501, 2600, 10_000):
        for _ in range(200):
            a, p = excerpt_pair(length, window, rng)
            assert 0 <= a <= length - window and 0 <= p <= length - window
            assert overlap_fraction(a, p, window) <= 0.5
    assert excerpt_pair(1499, window, rng) is None


def test_track_triplets_use_another_track_for_the_negative() -> None:
    lengths = [5000, 1200, 3000, 8000]
    triplets = sample_track_triplets(lengths, 1000, 200, seed=0)
    assert len(triplets) == 200
    for t, sa, sp, o, sn, _ in triplets:
        assert t != o and t != 1  # track 1 is too short for two excerpts
        assert overlap_fraction(sa, sp, 1000) <= 0.5
        assert 0 <= sn <= lengths[o] - 1000


def test_pair_matrices_agree_with_the_rule() -> None:
    labels = _labels(24)
    rows = np.arange(24)
    track_ids = rows // 2  # pretend items 2i, 2i+1 are one track
    pos, neg = pair_matrices(label_arrays(labels), rows, track_ids)
    for k, d in enumerate(DIMENSIONS):
        for i in range(24):
            for j in range(24):
                rule = similar(labels[i], labels[j], d)
                same_track = track_ids[i] == track_ids[j]
                assert pos[k, i, j] == (rule is True and not same_track)
                assert neg[k, i, j] == (rule is False and not same_track)


def test_labels_csv_round_trip_and_folders(tmp_path: Path) -> None:
    (tmp_path / "labels.csv").write_text(
        "path,genre,mood,instrument,bpm,split\n"
        "a.wav,Rock; Pop,,piano,120,train\n"
        "sub/b.wav,,calm,,,val\n"
    )
    labels = read_labels_csv(tmp_path / "labels.csv")
    assert labels[0].genre == {"rock", "pop"} and labels[0].bpm == 120.0 and labels[0].split == "train"
    assert labels[1].path == (tmp_path / "sub" / "b.wav").resolve()
    assert not labels[1].knows("genre") and not labels[1].knows("tempo") and labels[1].knows("mood")
    write_labels_csv(tmp_path / "copy.csv", labels)
    assert read_labels_csv(tmp_path / "copy.csv") == labels

    for rel in ("Jazz/mood=calm/x.wav", "bpm=90/y.flac", "z.ogg"):
        (tmp_path / "lib" / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "lib" / rel).write_bytes(b"")
    by_name = {t.path.name: t for t in labels_from_folders(tmp_path / "lib")}
    assert by_name["x.wav"].genre == {"jazz"} and by_name["x.wav"].mood == {"calm"}
    assert by_name["y.flac"].bpm == 90.0 and not by_name["y.flac"].genre
    assert not by_name["z.ogg"].has_labels
