"""Bass lines and comping rhythms per style, one bar at a time.

Events are ``(beat, duration_beats, pitch, velocity)`` in the bar; the arranger adds swing,
humanisation and bar offsets. The patterns are the textbook ones: rock root 8ths, funk
syncopated 16ths with octaves, a walking bass with chromatic approach notes, house
off-beat bass, boom-bap bass that follows the kick, reggae one-drop bass leaving space,
waltz oom-pah-pah, ambient drones, bossa root-fifth with anticipations.
"""

from __future__ import annotations

import numpy as np

from model.synth.theory import Chord

Event = tuple[float, float, int, int]


def _bass_pitch(pitch_class: int, centre: int = 38) -> int:
    """The pitch of ``pitch_class`` nearest ``centre`` (bass register around D2)."""
    base = centre - 6
    return base + (pitch_class - base) % 12


def _tone(chord: Chord, index: int) -> int:
    return _bass_pitch((chord.root + chord.intervals[index % len(chord.intervals)]) % 12)


def _grid(line: str, beats: int) -> list[float]:
    return [i / 4.0 for i, ch in enumerate(line[: 4 * beats]) if ch != "."]


def bass_bar(style: str, chord: Chord, following: Chord, beats: int, variant: int,
             rng: np.random.Generator, ostinato: bool) -> list[Event]:
    """The bass line of one bar."""
    root = _bass_pitch(chord.root % 12)
    fifth = _bass_pitch((chord.root + 7) % 12)
    nxt = _bass_pitch(following.root % 12)
    v = int(rng.integers(88, 108))
    if style == "ambient":
        if ostinato:
            return [(b * 0.5, 0.4, root, v - 10) for b in range(2 * beats)]
        return [(0.0, float(beats), root - 12 if root > 40 else root, v - 20)]
    if style == "rock":
        notes = [(b * 0.5, 0.45, root, v if b % 2 == 0 else v - 12) for b in range(2 * beats)]
        if rng.random() < 0.5:
            notes[-1] = (beats - 0.5, 0.45, nxt + (1 if nxt < root else -1), v - 8)
        return notes
    if style == "funk":
        line = ("x..x..x.x.xx..x.", "x.xx..x...x.x.x.", "x..x.xx..x..x.xx")[variant % 3]
        picks = (root, root + 12, root, fifth, root + 10, root + 12, root)
        return [(t, 0.2, picks[i % len(picks)], v if t == 0 else v - int(rng.integers(0, 30)))
                for i, t in enumerate(_grid(line, beats))]
    if style == "swing_jazz":
        line = [root]
        for _ in range(beats - 2):
            line.append(_tone(chord, int(rng.integers(1, len(chord.intervals)))))
        line.append(nxt + (1 if rng.random() < 0.5 else -1))
        return [(float(b), 0.9, p, v - (0 if b == 0 else 10)) for b, p in enumerate(line)]
    if style == "electronic":
        if variant % 2 == 0:
            return [(b + 0.5, 0.4, root, v) for b in range(beats)]
        return [(t, 0.2, root + (12 if i % 4 == 3 else 0), v - 10)
                for i, t in enumerate(_grid("xx.xxx.xxx.xxx.x", beats))]
    if style == "hiphop":
        line = ("x......x..x.....", "x.....x...x..x..", "x..x......xx....")[variant % 3]
        return [(t, 0.7, root if t < 2 else (fifth if rng.random() < 0.3 else root), v)
                for t in _grid(line, beats)]
    if style == "reggae":
        third = _tone(chord, 1)
        if variant % 2 == 0:
            return [(0.0, 0.9, root, v), (1.5, 0.4, third, v - 10), (2.0, 0.9, fifth, v - 5),
                    (3.5, 0.4, root, v - 10)]
        return [(0.5, 0.4, root, v - 5), (1.0, 0.9, root, v), (2.5, 0.4, fifth, v - 10),
                (3.0, 0.9, third, v - 5)]
    if style == "waltz":
        # Oom on the downbeat, alternating root and fifth bar to bar (the arranger passes it).
        pitch = fifth if variant % 2 else root
        return [(0.0, 0.9, pitch, v)]
    if style == "bossa":
        return [(0.0, 1.4, root, v), (1.5, 0.5, fifth, v - 10), (2.0, 1.4, fifth, v - 5),
                (3.5, 0.5, nxt, v - 10)]
    raise ValueError(f"unknown style {style}")


def comp_bar(style: str, voicing: list[int], beats: int, variant: int,
             rng: np.random.Generator) -> list[Event]:
    """The comping (chords) of one bar on the given voicing."""
    v = int(rng.integers(70, 96))

    def hit(t: float, d: float, vel: int) -> list[Event]:
        return [(t, d, p, vel) for p in voicing]

    out: list[Event] = []
    if style == "rock":
        if variant % 2 == 0:
            for b in range(2 * beats):
                out += hit(b * 0.5, 0.35, v if b % 2 == 0 else v - 10)
        else:
            out += hit(0.0, 1.9, v) + hit(2.0, 1.4, v - 5) + hit(3.5, 0.45, v - 10)
    elif style == "funk":
        line = ("..x...x..x.x..x.", "x..x..x...x..x..", ".x.x.x.x.x.x.x.x")[variant % 3]
        for t in _grid(line, beats):
            out += hit(t, 0.12, v + 10)
    elif style == "swing_jazz":
        # Charleston (1, and of 2) or an anticipation into 3, varied bar to bar.
        choices = ((0.0, 1.5), (0.0, 2.5), (1.5, 3.5), (0.5, 2.5))
        for t in choices[int(rng.integers(0, len(choices)))]:
            out += hit(t, 0.5, v - 5)
    elif style == "electronic":
        if variant % 2 == 0:
            for b in range(beats):
                out += hit(b + 0.5, 0.25, v)
        else:
            out += hit(0.0, float(beats) - 0.05, v - 15)
    elif style == "hiphop":
        out += hit(0.0, 1.4, v - 5) + hit(2.5, 1.0, v - 12)
    elif style == "reggae":
        for b in range(beats):
            out += hit(b + 0.5, 0.18, v + 5)
    elif style == "waltz":
        if variant % 2 == 0:
            out += hit(1.0, 0.45, v - 10) + hit(2.0, 0.45, v - 10)
        else:  # arpeggiated guitar/piano figure
            for i, t in enumerate((0.0, 0.5, 1.0, 1.5, 2.0, 2.5)):
                p = voicing[(i + (1 if i > 2 else 0)) % len(voicing)]
                out.append((t, 0.9, p, v - 15))
    elif style == "ambient":
        out += hit(0.0, float(beats), v - 25)
    elif style == "bossa":
        line = ("x..x..x...x..x..", "x..x..x..x..x...")[variant % 2]
        for t in _grid(line, beats):
            out += hit(t, 0.4, v - 10)
    else:
        raise ValueError(f"unknown style {style}")
    return out


def extra_bar(kind: str, voicing: list[int], beats: int, rng: np.random.Generator) -> list[Event]:
    """The optional second layer: a reggae organ bubble or an ambient arpeggio."""
    if kind == "bubble":
        out: list[Event] = []
        for b in range(beats):
            out += [(b + 0.25, 0.2, p, 55) for p in voicing[1:]]
            out += [(b + 0.5, 0.2, p, 65) for p in voicing]
        return out
    if kind == "arp":
        order = voicing + [p + 12 for p in voicing]
        step = int(rng.integers(0, len(order)))
        return [(i * 0.5, 0.45, order[(step + i) % len(order)], 50) for i in range(2 * beats)]
    raise ValueError(f"unknown layer {kind}")
