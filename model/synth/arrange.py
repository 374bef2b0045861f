"""Turn one clip's labels and seed into a band arrangement: MIDI parts plus timing.

This is where the four labels meet and where they must not leak into each other: the style
plays the groove, the mood picks mode/progression/dynamics, the lead family plays the
melody, and the tempo is just the tempo. Every random choice comes from the clip's seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from model.synth.accomp import bass_bar, comp_bar, extra_bar
from model.synth.drums import drum_bar, variant_count
from model.synth.instruments import FAMILIES, program_range
from model.synth.melody import melody
from model.synth.midi import DRUM_CHANNEL, PPQ, Note, Part
from model.synth.moods import MOODS
from model.synth.styles import STYLES
from model.synth.theory import Chord, diatonic_chord, diminished_seventh, voice_chord

COMP_CENTRE = {"rock": 55, "funk": 67, "swing_jazz": 62, "electronic": 64, "hiphop": 62,
               "reggae": 64, "waltz": 62, "ambient": 60, "bossa": 60}


@dataclass(frozen=True)
class Arrangement:
    """Everything the renderer needs: parts, tempo, meter, length and where to crop."""

    parts: list[Part]
    bpm: float
    beats_per_bar: int
    end_tick: int
    offset_s: float  # start of the labelled excerpt inside the rendered audio
    key: str
    pattern_family: int = 0  # which of PATTERN_FAMILIES comp/bass rhythm lines the band plays


PATTERN_FAMILIES = 3  # comp and bass rhythm lines per style (accomp.py: ``variant % 3``)
HELDOUT_PATTERN_FAMILY = 2  # never trained on: measures generalisation to unheard arrangements

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")


def _chords(style_name: str, mood_name: str, tonic: int, mode: str, n_bars: int,
            rng: np.random.Generator) -> list[Chord]:
    style, mood = STYLES[style_name], MOODS[mood_name]
    extension = str(rng.choice(style.extensions))
    if mood.colour and extension != "power" and rng.random() < 0.6:
        extension = mood.colour
    bars_per_chord = max(1, int(rng.choice(style.bars_per_chord) * mood.harmony_rate))
    progression = mood.progressions[int(rng.integers(0, len(mood.progressions)))]
    cycle = []
    for degree in progression:
        # Harmonic minor only lends its major V; its augmented III would sound like an error.
        chord_mode = "aeolian" if mode == "harmonic_minor" and degree != 4 else mode
        chord = diatonic_chord(tonic, chord_mode, degree, extension)
        if degree in (4, 6) and rng.random() < mood.diminished:
            chord = diminished_seventh(tonic - 1)
        cycle.append(chord)
    return [cycle[(b // bars_per_chord) % len(cycle)] for b in range(n_bars)]


def arrange(genre: str, mood_name: str, instrument: str, bpm: float, seed: int,
            seconds: float) -> Arrangement:
    """The arrangement for one clip (deterministic in ``seed``)."""
    rng = np.random.default_rng([seed, 1])
    style, mood, family = STYLES[genre], MOODS[mood_name], FAMILIES[instrument]
    beats = style.beats_per_bar
    bar_s = beats * 60.0 / bpm
    n_bars = math.ceil((seconds + bar_s) / bar_s) + 1
    offset_s = float(rng.uniform(0.0, bar_s))
    tonic_pc = int(rng.integers(0, 12))
    tonic = 48 + tonic_pc
    mode = str(rng.choice(mood.modes))
    chords = _chords(genre, mood_name, tonic, mode, n_bars, rng)
    variant = int(rng.integers(0, 6))
    drum_variant = int(rng.integers(0, variant_count(genre)))
    # The band follows the lead's dynamics (soft for sad/calm, hard for tense): velocity
    # changes the soundfont's timbre, which survives the loudness normalisation.
    dynamics = 0.2 + 0.8 * float(np.mean(mood.velocity)) / 100.0
    swing = style.swing + (float(rng.uniform(-0.03, 0.03)) if style.swing > 0.5 else 0.0)

    def tick(bar: int, beat: float) -> int:
        pair = 2 * style.swing_unit
        k = math.floor(beat / pair + 1e-9)
        r = beat - k * pair
        if abs(r - style.swing_unit) < 1e-6:
            r = pair * swing
        jitter = rng.normal(0.0, 6.0) if genre != "electronic" else 0.0
        return max(0, int(round((bar * beats + k * pair + r) * PPQ + jitter)))

    def notes(events: list[tuple[int, tuple[float, float, int, int]]], scale: float) -> list[Note]:
        return [Note(tick(bar, t), max(1, int(d * PPQ)), int(p),
                     int(np.clip(v * scale + rng.normal(0, 4), 1, 127)))
                for bar, (t, d, p, v) in events]

    # Lead melody.
    program = int(rng.choice(family.programs))
    low, high = program_range(instrument, program)
    mid = (low + high) / 2 + mood.register_shift
    lo = int(np.clip(mid - 10, low, high - 19))
    density = mood.density * style.melody_density * math.sqrt(110.0 / bpm)
    if not family.sustained:  # plucked and struck leads decay, so they play more notes
        density *= 1.15
    lead_events = melody(chords, tonic, mode, mood, beats, lo, lo + 19, density, rng)
    # Comping, bass, drums, optional extra layer.
    comp_events, bass_events, drum_events, extra_events = [], [], [], []
    centre = COMP_CENTRE[genre] + int(rng.integers(-3, 4))
    previous: list[int] | None = None
    for bar, chord in enumerate(chords):
        voicing = voice_chord(chord, centre, previous, rng, spread=rng.random() < 0.2,
                              rootless=genre == "swing_jazz")
        previous = voicing
        following = chords[min(bar + 1, n_bars - 1)]
        comp_events += [(bar, e) for e in comp_bar(genre, voicing, beats, variant, rng)]
        bass_variant = bar if genre == "waltz" else variant
        bass_events += [(bar, e) for e in bass_bar(genre, chord, following, beats, bass_variant,
                                                   rng, mood.ostinato)]
        drum_events += [(bar, e) for e in drum_bar(genre, drum_variant, bar, 4, beats, rng)]
        if style.extra:
            extra_events += [(bar, e) for e in extra_bar(style.extra, voicing, beats, rng)]
    reverb = int(rng.integers(*style.reverb))
    parts = [
        Part("lead", 0, program, notes(lead_events, 1.0), volume=int(rng.integers(100, 128)),
             pan=int(64 + rng.integers(-15, 16)), reverb=reverb, chorus=int(rng.integers(0, 40))),
        Part("comp", 1, int(rng.choice(style.comp_programs)), notes(comp_events, dynamics),
             volume=int(rng.integers(45, 82)), pan=int(64 + rng.choice([-1, 1]) *
                                                      rng.integers(10, 40)),
             reverb=reverb, chorus=int(rng.integers(0, 50))),
        Part("bass", 2, int(rng.choice(style.bass_programs)), notes(bass_events, dynamics),
             volume=int(rng.integers(75, 106)), pan=64, reverb=reverb // 3),
    ]
    if drum_events:
        parts.append(Part("drums", DRUM_CHANNEL, int(rng.choice(style.kits)),
                          notes(drum_events, dynamics), volume=int(rng.integers(75, 111)),
                          reverb=reverb // 2))
    if extra_events:
        extra_program = 16 if style.extra == "bubble" else int(rng.choice((46, 98, 92)))
        parts.append(Part("extra", 3, extra_program, notes(extra_events, dynamics),
                          volume=int(rng.integers(35, 66)), pan=int(64 + rng.integers(-30, 31)),
                          reverb=reverb))
    key = f"{NOTE_NAMES[tonic_pc]} {mode}"
    return Arrangement(parts, float(bpm), beats, (n_bars * beats + 1) * PPQ, offset_s, key,
                       variant % PATTERN_FAMILIES)


def pattern_family(genre: str, mood_name: str, instrument: str, bpm: float, seed: int,
                   seconds: float = 30.0) -> int:
    """A clip's comp/bass pattern family, replayed from its labels and seed (no rendering:
    a few milliseconds), so corpora rendered before the family was recorded can be split."""
    return arrange(genre, mood_name, instrument, bpm, seed, seconds).pattern_family
