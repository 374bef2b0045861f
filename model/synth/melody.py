"""Lead melodies in the mode, with phrase structure (motif, varied repeat, contrast, cadence).

A phrase is four bars, A A' B C: bar A invents a rhythm and a contour, A' repeats A's
rhythm and intervals from the current chord (a sequence), B contrasts, and C lands on a
chord tone with a long note. Strong beats snap to chord tones, weak beats move by step,
and the mood sets density, leaps, drift, chromatic neighbours and repeated notes.
"""

from __future__ import annotations

import numpy as np

from model.synth.moods import Mood
from model.synth.theory import MODES, Chord, nearest_in

Event = tuple[float, float, int, int]


def _rhythm(beats: int, density: float, rng: np.random.Generator) -> list[float]:
    """Onsets (in beats) for one bar with about ``density`` notes per beat."""
    unit = 0.25 if density > 2.0 else 0.5
    slots = np.arange(0, beats, unit)
    expected = min(len(slots), max(1.0, density * beats))
    weights = np.array([1.6 if s % 1 == 0 else (1.0 if s % 0.5 == 0 else 0.6) for s in slots])
    probs = np.clip(weights / weights.sum() * expected, 0, 1)
    onsets = [float(s) for s, p in zip(slots, probs, strict=True) if rng.random() < p]
    if not onsets or onsets[0] != 0.0:
        if rng.random() < 0.75 or not onsets:
            onsets = [0.0] + onsets
    return sorted(set(onsets))


def _pitch_pool(tonic: int, mode: str, low: int, high: int, pentatonic: bool) -> list[int]:
    steps = MODES[mode]
    keep = set(range(7))
    if pentatonic:
        # Drop the two degrees that make half steps (4 and 7 in major, 2 and 6 in minor).
        keep = {0, 1, 2, 4, 5} if steps[2] == 4 else {0, 2, 3, 4, 6}
    classes = {(tonic + steps[d]) % 12 for d in keep}
    return [p for p in range(low, high + 1) if p % 12 in classes]


def melody(
    chords: list[Chord],
    tonic: int,
    mode: str,
    mood: Mood,
    beats: int,
    low: int,
    high: int,
    density: float,
    rng: np.random.Generator,
) -> list[tuple[int, Event]]:
    """The lead line as ``(bar, event)`` pairs for ``len(chords)`` bars (one chord per bar)."""
    pool = _pitch_pool(tonic, mode, low, high, mood.pentatonic)
    centre = (low + high) / 2
    index = pool.index(nearest_in(pool, centre))
    leap_p = 0.25 if mood.name == "happy" else 0.1
    repeat_p = 0.3 if mood.ostinato else 0.08
    out: list[tuple[int, Event]] = []
    motif: tuple[list[float], list[int]] | None = None
    for bar, chord in enumerate(chords):
        role = bar % 4
        chord_tones = [p for p in pool if p % 12 in chord.pitch_classes] or pool
        if role == 0 or motif is None:
            onsets = _rhythm(beats, density, rng)
            moves: list[int] = []
        elif role == 1:
            onsets, moves = motif
        elif role == 2:
            onsets = _rhythm(beats, density * 1.2, rng)
            moves = []
        else:  # cadence: a couple of notes then a long chord tone
            onsets = sorted({0.0, *(_rhythm(beats, density, rng)[:2])})
            moves = []
        new_moves = []
        for k, onset in enumerate(onsets):
            if moves and k < len(moves):
                step = moves[k]
            elif rng.random() < repeat_p:
                step = 0
            else:
                size = int(rng.integers(2, 5)) if rng.random() < leap_p else int(rng.integers(1, 3))
                drift = mood.contour + 0.04 * (centre - pool[index]) / 2
                step = size if rng.random() < 0.5 + drift else -size
            index = int(np.clip(index + step, 0, len(pool) - 1))
            new_moves.append(step)
            pitch = pool[index]
            if onset % 1 == 0 or role == 3:
                pitch = nearest_in(chord_tones, pitch)
                index = pool.index(pitch) if pitch in pool else index
            end = onsets[k + 1] if k + 1 < len(onsets) else float(beats)
            if role == 3 and k == len(onsets) - 1:
                pitch = nearest_in(chord_tones, pitch)
            length = (end - onset) * float(rng.uniform(*mood.legato))
            vel = int(rng.integers(*mood.velocity)) + (8 if onset == 0 else 0)
            if rng.random() < mood.chromatic and length > 0.2:
                # Semitone neighbour before the target: the grinding tension of tense music.
                half = length / 2
                out.append((bar, (onset, half, pitch + (1 if rng.random() < 0.5 else -1),
                                  min(127, vel + 6))))
                out.append((bar, (onset + half, half, pitch, vel)))
            else:
                out.append((bar, (onset, max(0.1, length), pitch, min(127, vel))))
        if role == 0:
            motif = (onsets, new_moves)
    return out
