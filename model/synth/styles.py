"""Genres (the ``genre`` label) as groove, swing feel, harmony colour, bass and comping.

A style says *how* the band plays: meter and swing, which drum groove, which chord
extensions and how fast the harmony moves, which bass line and comping rhythm and on which
instruments. It does not choose the tempo, the mood's mode or the lead instrument: those
are sampled independently so the model cannot learn genre from them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Style:
    """One genre. Programs are 0-based GM numbers; kits are GM drum-bank presets."""

    name: str
    beats_per_bar: int
    swing: float  # position of the off-beat inside a pair (0.5 = straight, 0.67 = triplet)
    swing_unit: float  # length in beats of the swung subdivision (0.5 = 8ths, 0.25 = 16ths)
    extensions: tuple[str, ...]
    bars_per_chord: tuple[int, ...]
    comp_programs: tuple[int, ...]
    bass_programs: tuple[int, ...]
    kits: tuple[int, ...]
    melody_density: float  # multiplier on the mood's notes per beat
    reverb: tuple[int, int]  # CC91 send range
    extra: str | None = None  # a second accompaniment layer (organ bubble, ambient arp)


STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style("rock", 4, 0.5, 0.5, ("power", "triad"), (1, 2), (29, 30, 27), (33, 34),
              (0, 16, 8), 1.0, (20, 60)),
        Style("funk", 4, 0.54, 0.25, ("ninth", "seventh"), (2, 4), (28, 27, 7), (36, 37, 33),
              (0, 8), 1.2, (10, 45)),
        Style("swing_jazz", 4, 0.66, 0.5, ("seventh", "ninth"), (1, 2), (0, 26), (32,),
              (32, 40, 0), 1.2, (30, 70)),
        Style("electronic", 4, 0.5, 0.5, ("triad", "add9", "seventh"), (1, 2),
              (81, 90, 89), (38, 39), (24, 25, 0), 1.0, (40, 80)),
        Style("hiphop", 4, 0.6, 0.25, ("seventh", "ninth"), (1, 2), (4, 0, 5), (33, 38, 32),
              (0, 8, 25), 0.9, (20, 50)),
        Style("reggae", 4, 0.56, 0.5, ("triad",), (1, 2), (27, 28, 16), (33, 34),
              (0, 8), 0.9, (30, 60), extra="bubble"),
        Style("waltz", 3, 0.5, 0.5, ("triad",), (1, 2), (21, 0, 24, 25), (32, 33, 58),
              (0, 40, 8), 1.0, (30, 70)),
        Style("ambient", 4, 0.5, 0.5, ("add9", "sus2", "seventh"), (2, 4),
              (89, 88, 91, 94, 95), (38, 32, 89), (0,), 0.5, (80, 120), extra="arp"),
        Style("bossa", 4, 0.5, 0.5, ("seventh", "ninth"), (1, 2), (24, 0), (32, 33),
              (0, 32, 40), 1.0, (30, 60)),
    )
}
GENRES: tuple[str, ...] = tuple(STYLES)
