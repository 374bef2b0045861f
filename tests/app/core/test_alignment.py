"""Offsets placed by aligning the query's phase windows with a track's window sequence."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.alignment import PHASES, align, phase_hop_s, split_phases
from app.core.catalog import Catalog, TrackRecord
from app.core.query import query_from_windows
from app.core.search import SearchEngine
from app.core.types import SearchWeights
from model.audio import WINDOW_SAMPLES, WINDOW_SECONDS
from model.dimensions import normalize_blocks

MODEL = "testmodel0000000"
EQUAL = np.ones(4, np.float32)


def _windows(rng: np.random.Generator, n: int) -> np.ndarray:
    return normalize_blocks(rng.normal(size=(n, 256)).astype(np.float32))


def test_split_phases_starts_each_phase_a_hop_later() -> None:
    samples = np.arange(3 * WINDOW_SAMPLES + 100, dtype=np.float32)
    phases = split_phases(samples)
    hop = WINDOW_SAMPLES // PHASES
    assert len(phases) == PHASES
    assert [len(p) for p in phases] == [3, 2, 2, 2]
    for p, windows in enumerate(phases):
        assert windows[0, 0] == p * hop and windows[-1, -1] == p * hop + len(windows) * WINDOW_SAMPLES - 1
    assert split_phases(samples[: WINDOW_SAMPLES - 1]) == []


def test_align_finds_the_phase_and_window_where_the_sequence_lines_up() -> None:
    rng = np.random.default_rng(3)
    track = _windows(rng, 30)
    phases = [_windows(rng, 4) for _ in range(PHASES)]
    # Phase 2 of the clip lines up with track windows 11..14, with some noise on top.
    phases[2] = normalize_blocks(track[11:15] + 0.3 * rng.normal(size=(4, 256)).astype(np.float32))
    offset, cosines = align(phases, track, EQUAL, phase_hop_s())
    assert offset == pytest.approx(11 * WINDOW_SECONDS - 2 * phase_hop_s())
    assert np.all(cosines > 0.25)  # cos ~0.4 in each dimension; unrelated window pairs ~0


def test_align_uses_the_weighted_dimensions_only() -> None:
    """A match in the tempo block alone wins only when tempo has weight."""
    rng = np.random.default_rng(4)
    track = _windows(rng, 20)
    phases = [_windows(rng, 3) for _ in range(PHASES)]
    phases[0][:, :64] = track[2:5, :64]  # genre block lines up at window 2
    phases[1][:, 192:] = track[9:12, 192:]  # tempo block lines up at window 9
    assert align(phases, track, np.array([1, 0, 0, 0], np.float32), phase_hop_s())[0] == pytest.approx(
        2 * WINDOW_SECONDS)
    assert align(phases, track, np.array([0, 0, 0, 1], np.float32), phase_hop_s())[0] == pytest.approx(
        9 * WINDOW_SECONDS - phase_hop_s())


def test_search_reports_the_aligned_offset(tmp_path) -> None:
    rng = np.random.default_rng(5)
    catalog = Catalog.open(tmp_path / "lib.db")
    tracks = {f"/m/{i}.wav": _windows(rng, 25) for i in range(12)}
    catalog.write_batch([
        TrackRecord(p, 1, 1, 75.0, {}, MODEL, track=normalize_blocks(w.mean(0)), windows=w)
        for p, w in tracks.items()
    ])
    source = tracks["/m/4.wav"]
    phases = [_windows(rng, 4) for _ in range(PHASES)]
    phases[3] = source[6:10]
    grid = query_from_windows(source[6:10])
    aligned = query_from_windows(source[6:10], phases=phases)
    engine = SearchEngine(catalog.load_track_vectors(MODEL),
                          lambda ids: catalog.window_vectors(ids, MODEL), catalog.get_tracks)
    assert engine.search(grid, SearchWeights(), k=1)[0].offset_s == pytest.approx(6 * WINDOW_SECONDS)
    best = engine.search(aligned, SearchWeights(), k=1)[0]
    assert best.track.path == "/m/4.wav"
    assert best.offset_s == pytest.approx(6 * WINDOW_SECONDS - 3 * phase_hop_s())
    catalog.close()


def _one_by_one(cosines, weights, hop_s):  # noqa: ANN001, ANN202
    """The loop best_alignment ran per candidate before it was batched: first best phase wins."""
    from app.core.alignment import weighted_scores

    best_score, best_offset, best_dims = -np.inf, 0.0, np.zeros(4, np.float32)
    for p, dims in enumerate(cosines):
        if dims.shape[0] == 0:
            continue
        scores = weighted_scores(dims, weights)
        o = int(np.argmax(scores))
        if scores[o] > best_score:
            best_score, best_dims = float(scores[o]), dims[o]
            best_offset = max(0.0, o * WINDOW_SECONDS - p * hop_s)
    return best_offset, best_dims


def test_best_alignments_of_many_candidates_match_one_at_a_time() -> None:
    """A slider move aligns its candidates in one batch: the same offsets and cosines as one by
    one, for empty phases, candidates without windows, and ties (coarse values tie often)."""
    from app.core.alignment import best_alignment, best_alignments, stack_phases

    rng = np.random.default_rng(3)
    hop = phase_hop_s()
    candidates = []
    for _ in range(300):
        sizes = rng.integers(0, 6, size=int(rng.integers(0, PHASES + 1)))
        candidates.append([np.round(rng.uniform(-1, 1, size=(int(n), 4)), 1).astype(np.float32) for n in sizes])
    for weights in (EQUAL, np.array([0.3, 0.0, 1.0, 0.55], np.float32)):
        offsets, dims = best_alignments([stack_phases(c, hop) for c in candidates], weights)
        for cosines, offset, row in zip(candidates, offsets, dims, strict=True):
            want_offset, want_dims = _one_by_one(cosines, weights, hop)
            assert offset == want_offset and np.array_equal(row, want_dims)
            assert best_alignment(cosines, weights, hop)[0] == want_offset


def test_a_candidate_with_nan_cosines_is_left_unaligned_not_an_error() -> None:
    """A NaN among a candidate's cosines (a broken stored vector) gives it offset 0 and zero
    cosines, as a candidate without windows, and the others are aligned as usual."""
    from app.core.alignment import best_alignments, stack_phases

    hop = phase_hop_s()
    good = [np.array([[0.1, 0.2, 0.3, 0.4], [0.5, 0.5, 0.5, 0.5]], np.float32)]
    bad = [np.array([[np.nan, 0.0, 0.0, 0.0], [0.9, 0.9, 0.9, 0.9]], np.float32)]
    offsets, dims = best_alignments([stack_phases(c, hop) for c in (good, bad, good)], EQUAL)
    assert offsets.tolist() == [WINDOW_SECONDS, 0.0, WINDOW_SECONDS]
    assert dims[1].tolist() == [0.0] * 4 and dims[0].tolist() == [0.5] * 4


def test_phase_cosines_of_many_tracks_are_the_one_at_a_time_ones_to_the_bit() -> None:
    from app.core.alignment import phase_cosines, phase_cosines_many

    rng = np.random.default_rng(0)
    phases = [normalize_blocks(rng.normal(size=(m, 256)).astype(np.float32)) for m in (10, 9, 9, 9)]
    lengths = rng.choice([60, 60, 60, 33, 5, 0, 10, 9, 61], 120)  # shared lengths, short, empty
    tracks = [normalize_blocks(rng.normal(size=(n, 256)).astype(np.float32)).astype(np.float16) for n in lengths]
    for together, alone in zip(phase_cosines_many(phases, tracks), [phase_cosines(phases, t) for t in tracks],
                               strict=True):  # fmt: skip
        assert len(together) == len(alone)
        for a, b in zip(together, alone, strict=True):
            assert a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def test_stacks_of_tracks_of_one_length_share_their_offsets() -> None:
    from app.core.alignment import stack_phases

    hop = phase_hop_s()
    one = stack_phases([np.zeros((5, 4), np.float32), np.zeros((4, 4), np.float32)], hop)
    two = stack_phases([np.ones((5, 4), np.float32), np.ones((4, 4), np.float32)], hop)
    assert one[1] is two[1] and not one[1].flags.writeable
    want = np.concatenate([np.arange(5) * WINDOW_SECONDS, np.maximum(0.0, np.arange(4) * WINDOW_SECONDS - hop)])
    assert np.array_equal(one[1], want)
