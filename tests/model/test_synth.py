"""The synthetic corpus generator: determinism, label independence, MIDI validity, a real
fluidsynth render (TimGM6mb), its tempo, and resumable corpus rendering."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections import Counter
from pathlib import Path

import librosa
import numpy as np
import pytest
import soundfile as sf
from scipy.stats import chi2_contingency

from model.synth.arrange import arrange
from model.synth.corpus import CorpusConfig, clip_midi, label_row, render_clip, render_corpus
from model.synth.instruments import FAMILIES, INSTRUMENTS
from model.synth.midi import read_midi_summary
from model.synth.moods import MOOD_NAMES
from model.synth.plan import TEMPO_BINS, plan, plan_clip
from model.synth.styles import GENRES

TIM = "/usr/share/sounds/sf2/TimGM6mb.sf2"  # Debian timgm6mb-soundfont (scripts/system-deps.sh test)
FONTS = ("a.sf2", "b.sf2")


def test_plan_is_deterministic_and_extends_consistently():
    first = plan(7, 60, FONTS)
    assert first == plan(7, 60, FONTS)
    assert plan(7, 120, FONTS)[:60] == first  # more clips later = same corpus, extended
    other = plan(8, 60, FONTS)
    assert [c.genre for c in other] != [c.genre for c in first]
    assert len({c.seed for c in first}) == 60


def test_same_seed_gives_identical_midi_and_different_seeds_differ():
    spec = plan_clip(3, 5, FONTS)
    a, offset_a = clip_midi(spec, 10.0)
    b, offset_b = clip_midi(spec, 10.0)
    assert a == b and offset_a == offset_b
    c, _ = clip_midi(plan_clip(4, 5, FONTS), 10.0)
    assert a != c


def test_midi_file_is_valid_and_carries_the_labels():
    for index in range(12):
        spec = plan_clip(11, index, FONTS)
        data, _ = clip_midi(spec, 12.0)
        summary = read_midi_summary(data)
        assert summary["format"] == 1 and summary["ppq"] == 480
        assert summary["bpm"] == pytest.approx(spec.bpm, abs=0.01)
        assert summary["note_ons"] > 20
        assert summary["programs"][0] in FAMILIES[spec.instrument].programs  # lead on ch 0
        assert (9 in summary["programs"]) == (spec.genre != "ambient")  # ambient has no drums


def test_labels_cover_every_value_and_are_independent():
    specs = plan(0, 1800, FONTS)
    genres = Counter(c.genre for c in specs)
    assert set(genres) == set(GENRES) and len(GENRES) >= 8
    assert set(c.mood for c in specs) == set(MOOD_NAMES) and len(MOOD_NAMES) >= 4
    assert set(c.instrument for c in specs) == set(INSTRUMENTS) and len(INSTRUMENTS) >= 6
    bpms = np.array([c.bpm for c in specs])
    assert bpms.min() >= 60 and bpms.max() <= 180
    assert max(genres.values()) - min(genres.values()) <= 1  # block randomisation balances
    splits = Counter(c.split for c in specs)
    assert splits["train"] == 1440 and splits["val"] == 180 and splits["test"] == 180
    tempo_bin = [min(TEMPO_BINS - 1, (c.bpm - 60) // 10) for c in specs]
    columns = {
        "genre": [c.genre for c in specs], "mood": [c.mood for c in specs],
        "instrument": [c.instrument for c in specs], "tempo": tempo_bin,
        "soundfont": [c.soundfont for c in specs], "split": [c.split for c in specs],
    }
    names = list(columns)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            ka, kb = sorted(set(columns[a])), sorted(set(columns[b]))
            table = np.zeros((len(ka), len(kb)))
            for x, y in zip(columns[a], columns[b], strict=True):
                table[ka.index(x), kb.index(y)] += 1
            p = chi2_contingency(table).pvalue
            assert p > 1e-4, f"{a} and {b} look dependent (chi-square p={p:.2g})"
    # No style fixes the tempo: every genre spans most of the range.
    for genre in GENRES:
        g = bpms[np.array(columns["genre"]) == genre]
        assert g.min() < 75 and g.max() > 165, genre


def test_style_and_mood_never_choose_the_lead_instrument():
    for genre in GENRES:
        for mood in MOOD_NAMES:
            arrangement = arrange(genre, mood, "brass", 120, seed=5, seconds=4.0)
            lead = arrangement.parts[0]
            assert lead.name == "lead" and lead.program in FAMILIES["brass"].programs
            assert lead.notes, (genre, mood)


def _render(tmp_path: Path, genre: str, bpm: int, seconds: float, index: int) -> Path:
    spec = dataclasses.replace(plan_clip(1, index, (TIM,)), genre=genre, bpm=bpm, index=index)
    return render_clip(spec, tmp_path, seconds)


def test_real_render_is_non_silent_with_the_right_length_and_rate(tmp_path):
    path = _render(tmp_path, "funk", 110, 4.0, 0)
    audio, rate = sf.read(path, dtype="float32")
    assert rate == 22050 and audio.ndim == 1
    assert len(audio) == 4 * 22050
    rms = float(np.sqrt(np.mean(audio**2)))
    assert rms > 0.01 and np.abs(audio).max() <= 1.0
    again, _ = sf.read(_render(tmp_path / "again", "funk", 110, 4.0, 0), dtype="float32")
    np.testing.assert_array_equal(audio, again)  # the render itself is deterministic too


@pytest.mark.parametrize(("genre", "bpm"), [("rock", 96), ("electronic", 124)])
def test_rendered_drums_have_the_labelled_tempo(tmp_path, genre, bpm):
    audio, rate = sf.read(_render(tmp_path, genre, bpm, 8.0, 1), dtype="float32")
    envelope = librosa.onset.onset_strength(y=audio, sr=rate)
    estimate = float(librosa.feature.tempo(onset_envelope=envelope, sr=rate)[0])
    assert abs(estimate - bpm) < 4.0, estimate


def test_corpus_rendering_is_resumable(tmp_path):
    config = CorpusConfig(tmp_path / "c", count=3, seed=2, seconds=2.0, soundfonts=(TIM,),
                          jobs=2)
    first = list(render_corpus(config))[-1]
    assert (first.rendered, first.failed) == (3, 0)
    with open(tmp_path / "c" / "labels.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["path", "genre", "mood", "instrument", "bpm", "split", "soundfont",
                             "seed"]
    assert len(rows) == 3 and all((tmp_path / "c" / r["path"]).is_file() for r in rows)
    stamp = (tmp_path / "c" / rows[0]["path"]).stat().st_mtime_ns
    again = list(render_corpus(config))[-1]
    assert (again.rendered, again.skipped) == (0, 3)
    assert (tmp_path / "c" / rows[0]["path"]).stat().st_mtime_ns == stamp
    (tmp_path / "c" / rows[1]["path"]).unlink()
    third = list(render_corpus(config))[-1]
    assert (third.rendered, third.skipped) == (1, 2)
    with pytest.raises(ValueError, match="seed"):
        list(render_corpus(dataclasses.replace(config, seed=3)))


def test_demo_library_is_the_generator_output_its_readme_describes():
    demo = Path(__file__).resolve().parents[2] / "resources" / "demo"
    with open(demo / "labels.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fonts = tuple(json.loads((demo / "corpus.json").read_text(encoding="utf-8"))["soundfonts"])
    expected = [label_row(spec, readable=True) for spec in plan(2026, 45, fonts)]
    assert rows == expected  # same seed -> same labels, names and per-clip seeds
    assert all((demo / r["path"]).is_file() for r in rows)
    assert {r["genre"] for r in rows} == set(GENRES)
    assert {r["mood"] for r in rows} == set(MOOD_NAMES)
    assert {r["instrument"] for r in rows} == set(INSTRUMENTS)
    assert sum(p.stat().st_size for p in demo.glob("*.ogg")) < 6_000_000


def test_pattern_family_is_recorded_and_replayable_from_the_labels() -> None:
    """The family a clip was arranged with comes back from its labels and seed alone, and the
    corpus spreads over all families (one of them is held out of training)."""
    from model.synth.arrange import HELDOUT_PATTERN_FAMILY, PATTERN_FAMILIES, pattern_family

    families = [pattern_family("rock", "happy", "piano", 120, seed, 8.0) for seed in range(30)]
    assert set(families) == set(range(PATTERN_FAMILIES)) and HELDOUT_PATTERN_FAMILY in families
    assert [arrange("rock", "happy", "piano", 120, seed, 8.0).pattern_family for seed in range(30)] == families
