"""A same-recording result placed to the frame by its audio (app.core.refine)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from app.core import refine as refine_module
from app.core import search as search_module
from app.core.alignment import PHASES, best_alignment, best_offsets, phase_cosines, phase_hop_s
from app.core.catalog import Catalog, TrackRecord
from app.core.query import query_from_windows
from app.core.refine import (
    BANDS,
    CANDIDATES,
    CHECKED,
    FRAME_SECONDS,
    MATCH_NCC,
    MORE_CANDIDATES,
    OTHER_NCC,
    SUBFRAMES,
    SURE_NCC,
    band_pattern,
    band_patterns,
    check,
    confirms,
    normalized_xcorr,
    place,
    place_all,
    refine,
    warp,
)
from app.core.search import SearchEngine
from app.core.types import SearchWeights
from model.audio import HOP_LENGTH, SAMPLE_RATE, WINDOW_SECONDS
from model.dimensions import normalize_blocks

MODEL = "testmodel0000000"
SECONDS = 60


def _music(seed: int, seconds: float = SECONDS) -> np.ndarray:
    """Notes of random pitch and length with percussive noise bursts: no two passages alike."""
    rng = np.random.default_rng(seed)
    out = np.zeros(int(seconds * SAMPLE_RATE), np.float32)
    at = 0
    while at < out.size:
        n = int(rng.uniform(0.1, 0.5) * SAMPLE_RATE)
        t = np.arange(min(n, out.size - at)) / SAMPLE_RATE
        tone = np.sin(2 * np.pi * rng.uniform(110, 1760) * t) * np.exp(-t * rng.uniform(2, 8))
        tone[: int(0.01 * SAMPLE_RATE)] += rng.normal(scale=0.5, size=min(tone.size, int(0.01 * SAMPLE_RATE)))
        out[at : at + t.size] = 0.3 * tone
        at += n
    return out


def _excerpt(audio: np.ndarray, start_s: float, seconds: float = 15.0) -> np.ndarray:
    first = int(round(start_s * SAMPLE_RATE))
    return audio[first : first + int(seconds * SAMPLE_RATE)]


def _noisy(x: np.ndarray, snr_db: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(size=x.size) * np.sqrt(np.mean(x**2) / 10 ** (snr_db / 10))
    return (x + noise).astype(np.float32)


@pytest.fixture(scope="module")
def track(tmp_path_factory) -> tuple[str, np.ndarray]:
    path = tmp_path_factory.mktemp("refine") / "track.wav"
    audio = _music(1)
    sf.write(path, audio, SAMPLE_RATE, subtype="FLOAT")
    return str(path), audio


def test_normalized_xcorr_finds_a_shifted_pattern_whatever_its_level() -> None:
    rng = np.random.default_rng(0)
    track = rng.normal(size=(400, 16))
    query = 3.0 * track[123:223] + 7.0  # louder and offset: same shape
    ncc = normalized_xcorr(query, track)
    assert ncc.shape == (301,)
    assert int(np.argmax(ncc)) == 123 and ncc[123] == pytest.approx(1.0)
    assert np.max(np.delete(ncc, 123)) < 0.5
    assert normalized_xcorr(query, track[:50]).size == 0  # track shorter than the query


def test_place_finds_the_cut_to_the_frame_near_a_coarse_offset(track) -> None:
    path, audio = track
    pattern = band_pattern(_noisy(_excerpt(audio, 17.31), 10.0, seed=2))  # noisy, off any grid
    offset, ncc = place(pattern, path, 18.5)  # the window alignment was 1.2 s late
    assert offset == pytest.approx(17.31, abs=FRAME_SECONDS)
    assert ncc >= MATCH_NCC


def _counting_places(monkeypatch) -> list[float]:
    """The candidate offsets decoded (``place`` and the search's checks go through ``place_all``), in order."""
    tried: list[float] = []

    def counting(pattern, path, offsets):
        tried.extend(offsets)
        return place_all(pattern, path, offsets)

    monkeypatch.setattr(refine_module, "place_all", counting)
    return tried


def test_refine_looks_past_a_wrong_first_candidate(track, monkeypatch) -> None:
    path, audio = track
    pattern = band_pattern(_excerpt(audio, 30.0))
    tried = _counting_places(monkeypatch)
    assert refine(pattern, path, [5.0, 44.0, 29.2]) == pytest.approx(30.0, abs=FRAME_SECONDS)
    assert tried == [5.0, 44.0, 29.2]


def test_refine_leaves_another_recording_alone(track, tmp_path, monkeypatch) -> None:
    path, _ = track
    pattern = band_pattern(_excerpt(_music(7), 10.0))
    assert place(pattern, path, 10.0)[1] < OTHER_NCC
    tried = _counting_places(monkeypatch)
    assert refine(pattern, path, [10.0, 30.0]) is None
    assert tried == [10.0]  # clearly another recording: one region decoded
    assert refine(pattern, tmp_path / "missing.wav", [10.0]) is None  # unreadable: no answer


def test_best_offsets_are_distinct_and_start_with_the_alignment() -> None:
    rng = np.random.default_rng(3)
    track = normalize_blocks(rng.normal(size=(30, 256)).astype(np.float32))
    phases = [track[5 + p : 9 + p] for p in range(PHASES)]
    cosines = phase_cosines(phases, track)
    weights = np.ones(4, np.float32)
    offsets = best_offsets(cosines, weights, phase_hop_s(), 4, 3.0)
    assert offsets[0] == best_alignment(cosines, weights, phase_hop_s())[0]
    assert len(offsets) == 4
    assert all(abs(a - b) >= 3.0 for i, a in enumerate(offsets) for b in offsets[:i])


def test_search_places_the_top_result_by_its_audio(tmp_path, track, monkeypatch) -> None:
    """Windows say 'grid offset 6'; the audio says 17.31 s, and the result reports that."""
    path, audio = track
    rng = np.random.default_rng(5)
    windows = normalize_blocks(rng.normal(size=(20, 256)).astype(np.float32))
    catalog = Catalog.open(tmp_path / "lib.db")
    other = normalize_blocks(rng.normal(size=(20, 256)).astype(np.float32))
    catalog.write_batch([
        TrackRecord(path, 1, 1, float(SECONDS), {}, MODEL, track=normalize_blocks(windows.mean(0)), windows=windows),
        TrackRecord("/m/other.wav", 1, 1, 60.0, {}, MODEL, track=normalize_blocks(other.mean(0)), windows=other),
    ])
    phases = [windows[6:10]] + [normalize_blocks(rng.normal(size=(4, 256)).astype(np.float32))
                                for _ in range(PHASES - 1)]
    engine = SearchEngine(catalog.load_track_vectors(MODEL),
                          lambda ids: catalog.window_vectors(ids, MODEL), catalog.get_tracks)
    unplaced = query_from_windows(windows[6:10], phases=phases)
    placed = query_from_windows(windows[6:10], phases=phases, pattern=band_pattern(_excerpt(audio, 17.31)))
    assert engine.search(unplaced, SearchWeights(), k=1)[0].offset_s == pytest.approx(6 * WINDOW_SECONDS)
    best = engine.search(placed, SearchWeights(), k=2)
    assert best[0].track.path == path
    assert best[0].offset_s == pytest.approx(17.31, abs=FRAME_SECONDS)
    tried = _counting_places(monkeypatch)  # a slider move: same recording, nothing decoded
    moved = engine.search(placed, SearchWeights(genre=1, mood=0.2, instrument=0, tempo=3), k=2)
    assert (moved[0].track.path, moved[0].offset_s, tried) == (path, best[0].offset_s, [])
    catalog.close()


def test_a_looping_track_is_placed_at_the_passage_not_at_its_repeat(tmp_path, monkeypatch) -> None:
    """The window alignment's first candidate is a rougher repeat of the passage; the passage wins."""
    passage = _music(3, 15.0)
    parts = [_music(4, 10.0), passage, _music(5, 10.0), _noisy(passage, -6.0, seed=6), _music(6, 10.0)]
    path = tmp_path / "loop.wav"
    sf.write(path, np.concatenate(parts), SAMPLE_RATE, subtype="FLOAT")
    pattern = band_pattern(passage)
    repeat = place(pattern, path, 35.3)
    assert repeat is not None and MATCH_NCC <= repeat[1] < SURE_NCC  # a match, not a sure one
    tried = _counting_places(monkeypatch)
    assert refine(pattern, path, [35.3, 10.4, 52.0]) == pytest.approx(10.0, abs=FRAME_SECONDS)
    assert tried == [35.3, 10.4, 52.0]


def test_the_query_recording_below_the_top_is_promoted_and_placed(tmp_path, track, monkeypatch) -> None:
    """Noise made another recording's windows match best; the audio says the second is the source."""
    path, audio = track
    rng = np.random.default_rng(8)
    windows = normalize_blocks(rng.normal(size=(20, 256)).astype(np.float32))
    lookalike = normalize_blocks(windows + 0.3 * rng.normal(size=windows.shape).astype(np.float32))
    other_path = tmp_path / "other.wav"
    sf.write(other_path, _music(7), SAMPLE_RATE, subtype="FLOAT")
    catalog = Catalog.open(tmp_path / "lib.db")
    catalog.write_batch([
        TrackRecord(path, 1, 1, float(SECONDS), {}, MODEL, track=normalize_blocks(windows.mean(0)), windows=windows),
        TrackRecord(str(other_path), 1, 1, float(SECONDS), {}, MODEL,
                    track=normalize_blocks(lookalike.mean(0)), windows=lookalike),
    ])
    engine = SearchEngine(catalog.load_track_vectors(MODEL),
                          lambda ids: catalog.window_vectors(ids, MODEL), catalog.get_tracks)
    phases = [lookalike[6:10]] * PHASES
    by_windows = engine.search(query_from_windows(lookalike[6:10], phases=phases), SearchWeights(), k=2)
    assert [r.track.path for r in by_windows] == [str(other_path), path]
    tried = _counting_places(monkeypatch)
    query = query_from_windows(lookalike[6:10], phases=phases, pattern=band_pattern(_excerpt(audio, 17.31)))
    best = engine.search(query, SearchWeights(), k=2)
    assert [r.track.path for r in best] == [path, str(other_path)]
    assert best[0].offset_s == pytest.approx(17.31, abs=FRAME_SECONDS)
    assert best[1].offset_s == by_windows[0].offset_s  # another recording keeps its window offset
    # the top's first two regions (another recording, below MATCH_NCC at both), the second's first (sure)
    assert len(tried) == 3
    foreign = query_from_windows(lookalike[6:10], phases=phases, pattern=band_pattern(_excerpt(_music(9), 5.0)))
    assert [r.track.path for r in engine.search(foreign, SearchWeights(), k=2)] == [str(other_path), path]
    catalog.close()


def test_a_sped_up_excerpt_is_placed_at_its_start(track, monkeypatch) -> None:
    """A PAL-style speed-up (8 %, pitch and tempo): the warped pattern finds the cut's start."""
    path, audio = track
    source = _excerpt(audio, 30.0, 15.0 * 1.08)
    sped = np.interp(np.arange(0, source.size, 1.08), np.arange(source.size), source).astype(np.float32)
    pattern = band_pattern(sped)
    at_any = place(pattern, path, 29.0)
    assert at_any is not None and at_any[1] >= MATCH_NCC
    assert at_any[0] == pytest.approx(30.0, abs=2 * FRAME_SECONDS)
    monkeypatch.setattr(refine_module, "TEMPI", (1.0,))
    at_own = place(pattern, path, 29.0)
    assert at_own is not None and OTHER_NCC <= at_own[1] < at_any[1] - 0.2


def test_warp_stretches_the_pattern_in_time() -> None:
    pattern = np.arange(10, dtype=np.float64)[:, None] * np.ones((1, 2))
    assert warp(pattern, 1.0) is pattern
    slow = warp(pattern, 2.0)  # the query plays twice as fast: each of its frames covers two
    assert slow.shape == (20, 2)
    assert slow[:4, 0].tolist() == [0.0, 0.5, 1.0, 1.5]


def test_place_all_decodes_overlapping_regions_once(track, monkeypatch) -> None:
    path, audio = track
    pattern = band_pattern(_excerpt(audio, 12.0))
    alone = [place(pattern, path, o) for o in (10.8, 13.5, 40.0)]
    decoded: list[float] = []
    load = refine_module.load_audio

    def counting(path, offset_s=0.0, duration_s=None):
        decoded.append(offset_s)
        return load(path, offset_s, duration_s)

    monkeypatch.setattr(refine_module, "load_audio", counting)
    together = place_all(pattern, path, [40.0, 13.5, 10.8])
    assert len(decoded) == 2  # 10.8 and 13.5 share one stretch of audio
    for a, b in zip(alone, together[::-1], strict=True):
        assert a is not None and b is not None
        # the same lag; the NCC differs by the sub-frame phase of the shared region's frames
        assert b[0] == pytest.approx(a[0], abs=FRAME_SECONDS) and b[1] == pytest.approx(a[1], abs=0.1)
    assert together[1][0] == pytest.approx(12.0, abs=FRAME_SECONDS)


def test_band_patterns_are_the_clip_from_each_quarter_frame() -> None:
    audio = _music(11, 5.0)
    stack = band_patterns(audio)
    assert stack.shape[0] == SUBFRAMES and stack.shape[2] == BANDS
    for s in range(SUBFRAMES):
        alone = band_pattern(audio[s * HOP_LENGTH // SUBFRAMES :])
        np.testing.assert_allclose(stack[s], alone[: stack.shape[1]], rtol=1e-5)


def test_normalized_xcorr_of_a_stack_is_each_query_alone() -> None:
    rng = np.random.default_rng(1)
    track, stack = rng.normal(size=(300, BANDS)), rng.normal(size=(3, 80, BANDS))
    together = normalized_xcorr(stack, track)
    assert together.shape == (3, 221)
    for query, row in zip(stack, together, strict=True):
        np.testing.assert_allclose(row, normalized_xcorr(query, track), atol=1e-9)


def test_a_cut_between_two_frames_is_placed_within_a_quarter_frame(track) -> None:
    """Half a frame off the decoded region's frames (they start a whole number of frames before
    the candidate), one pattern loses some of its NCC (a looping real track: a fifth, below its
    repeats); a quarter-frame stack keeps it and reports the start to within an eighth of a frame."""
    path, audio = track
    start = 19.5 + 0.5 * FRAME_SECONDS
    excerpt = _excerpt(audio, start)
    one = place(band_pattern(excerpt), path, 19.5)
    stacked = place(band_patterns(excerpt), path, 19.5)
    assert one is not None and stacked is not None
    assert stacked[1] >= 0.99 and stacked[1] > one[1] + 0.05
    assert stacked[0] == pytest.approx(start, abs=FRAME_SECONDS / 8)


def test_a_short_track_is_scanned_whole_when_no_candidate_is_near(track, monkeypatch) -> None:
    """The window alignment's candidates all miss the passage and the first was unsure (as a noisy
    excerpt's often is); the track is no longer than the other candidates' regions, so it is
    scanned whole (one decode) and the passage found far from all of them."""
    path, audio = track
    pattern = band_patterns(_noisy(_excerpt(audio, 40.0), 10.0, seed=4))
    candidates = [3.0, 8.0, 13.0, 18.0, 23.0]
    first = (3.0, 0.3)  # place's answer at the first candidate: between OTHER_NCC and SURE_NCC
    tried = _counting_places(monkeypatch)
    scanned = refine(pattern, path, candidates, [first], duration_s=float(SECONDS))
    assert scanned == pytest.approx(40.0, abs=FRAME_SECONDS) and tried == []
    assert refine(pattern, path, candidates, [first]) is None  # length unknown: the regions alone miss it
    assert tried == candidates[1:]


def test_a_lower_result_is_checked_while_its_candidates_are_unsure(tmp_path) -> None:
    """A result below the top whose first candidates sound like the query, faintly (rough
    repeats), is checked at the next ones, up to CHECKED, and confirmed at the passage; another
    recording is not."""
    passage = _music(3, 15.0)
    parts = [_music(4, 10.0), passage, _music(5, 10.0), _noisy(passage, -15.0, seed=6), _music(6, 5.0),
             _noisy(passage, -15.0, seed=7), _music(7, 10.0)]
    path = tmp_path / "loop.wav"
    sf.write(path, np.concatenate(parts), SAMPLE_RATE, subtype="FLOAT")
    pattern = band_patterns(passage)
    for rough in (place(pattern, path, 35.0), place(pattern, path, 55.0)):
        assert rough is not None and OTHER_NCC <= rough[1] < MATCH_NCC
    known = check(pattern, path, [35.0, 55.0, 10.5, 72.0])
    assert len(known) == 3 and confirms(known)
    assert refine(pattern, path, [35.0, 55.0, 10.5, 72.0], known) == pytest.approx(10.0, abs=FRAME_SECONDS)
    assert CHECKED == 3 and len(check(pattern, path, [35.0, 55.0, 75.0, 10.5])) == 3  # not the 4th
    foreign = band_patterns(_music(9, 15.0))
    assert not confirms(check(foreign, path, [10.0, 35.0, 55.0]))


def test_the_top_result_is_checked_at_its_second_candidate_even_when_the_first_says_another(tmp_path) -> None:
    """A looping track's first candidate can land in an unrelated passage (NCC below OTHER_NCC);
    for the top result the second candidate is still tried, and refine goes on from there."""
    passage = _music(3, 15.0)
    path = tmp_path / "loop.wav"
    sf.write(path, np.concatenate([_music(4, 10.0), passage, _music(5, 20.0)]), SAMPLE_RATE, subtype="FLOAT")
    pattern = band_patterns(passage)
    below = check(pattern, path, [30.0, 10.5, 2.0])
    assert len(below) == 1 and below[0] is not None and below[0][1] < OTHER_NCC  # a lower result: one region
    top = check(pattern, path, [30.0, 10.5, 2.0], top=True)
    assert len(top) == 2 and confirms(top)
    assert refine(pattern, path, [30.0, 10.5, 2.0], top) == pytest.approx(10.0, abs=FRAME_SECONDS)


def test_more_candidates_are_tried_when_the_first_find_only_a_rough_repeat(tmp_path, monkeypatch) -> None:
    """The first CANDIDATES hold a rough repeat of the passage (the recording, not surely the
    passage): the next ones, up to MORE_CANDIDATES, are tried too, and the passage wins."""
    passage = _music(3, 15.0)
    parts = [_music(4, 10.0), passage, _music(5, 10.0), _noisy(passage, -6.0, seed=6), _music(6, 15.0)]
    path = tmp_path / "loop.wav"
    sf.write(path, np.concatenate(parts), SAMPLE_RATE, subtype="FLOAT")
    pattern = band_patterns(passage)
    candidates = [35.3, 50.0, 45.0, 55.0, 40.0, 30.0, 10.4, 60.0]
    assert len(candidates) == MORE_CANDIDATES and candidates.index(10.4) >= CANDIDATES
    tried = _counting_places(monkeypatch)
    assert refine(pattern, path, candidates) == pytest.approx(10.0, abs=FRAME_SECONDS)
    assert tried == candidates  # the first alone, the rest of the first five, the three more
    tried.clear()
    foreign = band_patterns(_music(9, 15.0))
    refine(foreign, path, candidates, [(35.3, 0.3)])  # unsure at first, never the recording
    assert tried == candidates[1:CANDIDATES]


def test_a_result_checked_below_the_top_is_checked_as_the_top_when_it_becomes_it(tmp_path, monkeypatch) -> None:
    """A slider move makes a result the top after it was checked below it (its first candidate
    in an unrelated passage: one region, "another recording"): the top's check still tries
    its second candidate, and the result is placed at the passage."""
    passage = _music(3, 15.0)
    path = tmp_path / "loop.wav"
    sf.write(path, np.concatenate([_music(4, 10.0), passage, _music(5, 20.0)]), SAMPLE_RATE, subtype="FLOAT")
    windows = normalize_blocks(np.random.default_rng(2).normal(size=(15, 256)).astype(np.float32))
    catalog = Catalog.open(tmp_path / "lib.db")
    catalog.write_batch([TrackRecord(str(path), 1, 1, 45.0, {}, MODEL, track=normalize_blocks(windows.mean(0)),
                                     windows=windows)])  # fmt: skip
    engine = SearchEngine(catalog.load_track_vectors(MODEL),
                          lambda ids: catalog.window_vectors(ids, MODEL), catalog.get_tracks)
    monkeypatch.setattr(search_module, "best_offsets", lambda *_args: [30.0, 10.5, 2.0])
    query = query_from_windows(windows[:4], phases=[windows[:4]] * PHASES, pattern=band_patterns(passage))
    state, w = engine._state(query), np.ones(4, np.float32)
    state.phases[0] = phase_cosines(query.phases, windows)
    assert engine._placed(query, state, w, 0, checked=False) is None  # below the top: one region
    assert engine._placed(query, state, w, 0, checked=True) == pytest.approx(10.0, abs=FRAME_SECONDS)
    catalog.close()
