"""Lead-instrument families (the ``instrument`` label) as General MIDI programs and ranges.

A family is several GM programs so the model learns "brass", not one trumpet patch; the
range keeps each melody where the real instrument plays (a cello line sits an octave and a
half below a flute line), and the label never depends on genre or mood.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    """A lead family: GM programs (0-based) and the comfortable melodic range (MIDI pitches)."""

    name: str
    programs: tuple[int, ...]
    low: int
    high: int
    sustained: bool  # bowed/blown/held tones (legato lines) vs plucked/struck (decaying)


FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family("piano", (0, 1, 2, 4, 5), 57, 88, False),
        Family("mallets", (9, 11, 12, 13), 62, 91, False),
        Family("organ", (16, 17, 18, 19, 21), 55, 84, True),
        Family("guitar", (24, 25, 26, 27, 29, 30), 52, 81, False),
        Family("strings", (40, 41, 42, 48, 49), 50, 86, True),
        Family("brass", (56, 57, 59, 60, 61), 50, 79, True),
        Family("reed", (64, 65, 66, 68, 71), 55, 84, True),
        Family("pipe", (72, 73, 74, 75), 67, 93, True),
        Family("synth_lead", (80, 81, 84, 87), 55, 86, True),
    )
}
INSTRUMENTS: tuple[str, ...] = tuple(FAMILIES)

# Programs with a narrower real range than their family default (cello, trombone, tenor sax).
PROGRAM_RANGES: dict[int, tuple[int, int]] = {
    42: (40, 72),
    57: (43, 72),
    66: (46, 76),
    41: (48, 79),
    60: (46, 77),
    72: (74, 98),
}


def program_range(family: str, program: int) -> tuple[int, int]:
    """Melodic range for ``program`` in ``family`` (program override, else family range)."""
    fam = FAMILIES[family]
    return PROGRAM_RANGES.get(program, (fam.low, fam.high))
