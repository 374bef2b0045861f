"""Music theory for the generator: modes, diatonic chords, extensions and voice-led voicings.

Everything is in MIDI note numbers and semitones. A chord is built by stacking thirds inside
the current mode (so the same degree sequence sounds major, minor or modal depending on the
mood's mode), then voiced near a register centre with the inversion closest to the previous
voicing, which is what keeps the comping from jumping around like a random chord generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MODES: dict[str, tuple[int, ...]] = {
    "ionian": (0, 2, 4, 5, 7, 9, 11),
    "lydian": (0, 2, 4, 6, 7, 9, 11),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "aeolian": (0, 2, 3, 5, 7, 8, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}

# Extension name -> scale-degree offsets stacked on the chord root (thirds = steps of 2).
EXTENSIONS: dict[str, tuple[int, ...]] = {
    "power": (0, 4, 7),  # root, fifth, octave
    "triad": (0, 2, 4),
    "seventh": (0, 2, 4, 6),
    "ninth": (0, 2, 4, 6, 8),
    "sus2": (0, 1, 4),
    "sus4": (0, 3, 4),
    "add9": (0, 2, 4, 8),
}


def scale_pitch(tonic: int, mode: str, degree: int) -> int:
    """MIDI pitch of scale ``degree`` (0 = tonic, may be negative or > 6) above ``tonic``."""
    steps = MODES[mode]
    octave, index = divmod(degree, len(steps))
    return tonic + 12 * octave + steps[index]


def scale_pitches(tonic: int, mode: str, low: int, high: int) -> list[int]:
    """All pitches of the mode between ``low`` and ``high`` inclusive, ascending."""
    classes = {(tonic + s) % 12 for s in MODES[mode]}
    return [p for p in range(low, high + 1) if p % 12 in classes]


@dataclass(frozen=True)
class Chord:
    """A chord as a root pitch (in the octave above the tonic) and semitone intervals."""

    degree: int
    root: int
    intervals: tuple[int, ...]

    @property
    def pitch_classes(self) -> frozenset[int]:
        return frozenset((self.root + i) % 12 for i in self.intervals)


def diatonic_chord(tonic: int, mode: str, degree: int, extension: str) -> Chord:
    """The chord on ``degree`` of the mode, stacked in thirds according to ``extension``."""
    root = scale_pitch(tonic, mode, degree)
    intervals = tuple(scale_pitch(tonic, mode, degree + o) - root for o in EXTENSIONS[extension])
    return Chord(degree=degree, root=root, intervals=intervals)


def diminished_seventh(root: int) -> Chord:
    """A fully diminished seventh (the tense mood's substitute for a dominant)."""
    return Chord(degree=-1, root=root, intervals=(0, 3, 6, 9))


def _inversions(chord: Chord, low: int, high: int) -> list[list[int]]:
    """Close-position voicings of ``chord`` (every inversion, every octave) inside the range."""
    tones = sorted({i % 12 for i in chord.intervals})
    out = []
    for base in range(low - 12, high + 1):
        if (base - chord.root) % 12 not in tones:
            continue
        start = tones.index((base - chord.root) % 12)
        rotation = tones[start:] + [t + 12 for t in tones[:start]]
        first = rotation[0]
        pitches = [base + t - first for t in rotation]
        if pitches[0] >= low and pitches[-1] <= high:
            out.append(pitches)
    return out


def voice_chord(
    chord: Chord,
    centre: int,
    previous: list[int] | None,
    rng: np.random.Generator,
    spread: bool = False,
    rootless: bool = False,
) -> list[int]:
    """Voice ``chord`` around ``centre``, choosing the inversion nearest the ``previous`` voicing.

    ``spread`` opens the voicing (second voice up an octave); ``rootless`` drops the root as
    jazz pianists do when a bass player has it.
    """
    if rootless and len(chord.intervals) >= 4:
        chord = Chord(chord.degree, chord.root, tuple(chord.intervals[1:]))
    candidates = _inversions(chord, centre - 9, centre + 12)
    if not candidates:
        candidates = [[centre - 12 + ((chord.root + i) % 12) for i in chord.intervals]]
    if previous:
        mean_prev = float(np.mean(previous))
        costs = [abs(float(np.mean(c)) - mean_prev) + 0.3 * rng.random() for c in candidates]
    else:
        costs = [abs(float(np.mean(c)) - centre) + 2.0 * rng.random() for c in candidates]
    voicing = list(candidates[int(np.argmin(costs))])
    if spread and len(voicing) >= 3:
        voicing[1] += 12
        voicing.sort()
    return voicing


def nearest_in(pitches: list[int], target: float) -> int:
    """The element of ``pitches`` closest to ``target``."""
    return min(pitches, key=lambda p: abs(p - target))
