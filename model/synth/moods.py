"""Moods (the ``mood`` label) as mode, progression, register, dynamics and articulation.

These are the cues listeners use: major/bright modes, lifting progressions, high register,
detached notes and strong dynamics read as happy; minor modes, falling lines, low register,
soft legato as sad; phrygian/harmonic minor, semitone clashes, diminished chords, ostinato
and accents as tense; major/lydian with sus/add9 colour, slow harmony and soft long notes as
calm. A mood never decides tempo, genre or instrument; it shapes how those are played.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mood:
    """How a mood colours every part. Progressions are scale degrees (0 = tonic) in the mode."""

    name: str
    modes: tuple[str, ...]
    progressions: tuple[tuple[int, ...], ...]
    register_shift: int  # semitones added to the lead's centre
    velocity: tuple[int, int]  # base velocity range
    legato: tuple[float, float]  # sounding fraction of each note's slot
    density: float  # melody notes per beat, before style scaling
    contour: float  # melodic drift per note in scale steps (+ rising, - falling)
    chromatic: float  # chance of a semitone neighbour note in the melody
    pentatonic: bool  # restrict the melody to the mode's pentatonic subset
    harmony_rate: float  # multiplier on bars per chord (2 = twice as slow)
    colour: str | None  # forced chord extension (sus2/add9) or None to keep the style's
    diminished: float  # chance a chord is replaced by a diminished seventh
    ostinato: bool  # bass/comp pulse on repeated notes


MOODS: dict[str, Mood] = {
    m.name: m
    for m in (
        Mood("happy", ("ionian", "mixolydian", "lydian"),
             ((0, 4, 5, 3), (0, 3, 4, 3), (0, 5, 3, 4), (3, 4, 0, 0), (0, 3, 0, 4)),
             register_shift=4, velocity=(88, 112), legato=(0.5, 0.75), density=1.6,
             contour=0.15, chromatic=0.0, pentatonic=False, harmony_rate=1.0, colour=None,
             diminished=0.0, ostinato=False),
        Mood("sad", ("aeolian", "dorian", "harmonic_minor"),
             ((0, 5, 2, 6), (0, 3, 6, 2), (0, 5, 3, 4), (0, 3, 0, 4), (5, 3, 0, 4)),
             register_shift=-5, velocity=(48, 72), legato=(0.92, 1.0), density=0.9,
             contour=-0.2, chromatic=0.03, pentatonic=False, harmony_rate=1.0, colour=None,
             diminished=0.0, ostinato=False),
        Mood("tense", ("phrygian", "harmonic_minor"),
             ((0, 1, 0, 1), (0, 0, 5, 4), (0, 1, 5, 4), (0, 6, 5, 1), (0, 3, 1, 0)),
             register_shift=-2, velocity=(95, 124), legato=(0.35, 0.6), density=2.2,
             contour=0.05, chromatic=0.25, pentatonic=False, harmony_rate=1.0, colour=None,
             diminished=0.3, ostinato=True),
        Mood("calm", ("ionian", "lydian"),
             ((0, 3, 0, 3), (0, 5, 3, 0), (3, 0, 3, 0), (0, 1, 3, 0), (0, 4, 3, 0)),
             register_shift=0, velocity=(40, 62), legato=(0.95, 1.0), density=0.6,
             contour=0.0, chromatic=0.0, pentatonic=True, harmony_rate=2.0, colour="add9",
             diminished=0.0, ostinato=False),
    )
}
MOOD_NAMES: tuple[str, ...] = tuple(MOODS)
