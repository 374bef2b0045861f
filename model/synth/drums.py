"""Drum grooves per style, written as 16th-note step strings, plus fills and crashes.

One character per 16th note (12 steps for 3/4): ``X`` accent, ``x`` normal, ``o`` medium,
``g`` ghost, ``f`` feathered, ``.`` rest. Each style has a few variants; a clip picks one as
its main groove and varies single bars, which is how drummers actually play: a fixed
pattern with small departures and a fill into each new phrase.
"""

from __future__ import annotations

import numpy as np

KICK, SIDE, SNARE, CLAP = 36, 37, 38, 39
CLOSED, PEDAL, OPEN = 42, 44, 46
CRASH, RIDE, BELL = 49, 51, 53
TAMBOURINE, COWBELL, SHAKER = 54, 56, 70
TOM_HIGH, TOM_MID, TOM_LOW, TOM_FLOOR = 50, 47, 45, 43

VELOCITY = {"X": 118, "x": 92, "o": 72, "g": 38, "f": 28}

# style -> list of variants; a variant maps drum note -> step string.
GROOVES: dict[str, list[dict[int, str]]] = {
    "rock": [
        {KICK: "x.......x.x.....", SNARE: "....X.......X...", CLOSED: "x.x.x.x.x.x.x.x."},
        {KICK: "x.....x.x.......", SNARE: "....X.......X...", CLOSED: "X.x.X.x.X.x.X.x."},
        {KICK: "x..x....x.x.....", SNARE: "....X.......X..g", RIDE: "x.x.x.x.x.x.x.x."},
    ],
    "funk": [
        {KICK: "x.....x...x..x..", SNARE: "...gX..g.g..X.g.",
         CLOSED: "Xxoxxxoxxxoxxx.x", OPEN: "..............o."},
        {KICK: "x..x..x...x.....", SNARE: ".g..X.g..g.gX.g.",
         CLOSED: "XoxoXoxoXoxoXoxo"},
        {KICK: "x.x...x..x....x.", SNARE: "..g.X..g.g.gX..g",
         CLOSED: "xxxxxxxxxxxx.xxx", OPEN: "............o..."},
    ],
    "swing_jazz": [
        {RIDE: "X...x.x.X...x.x.", PEDAL: "....x.......x...", KICK: "f...f...f...f..."},
        {RIDE: "x...X.x.x...X.x.", PEDAL: "....x.......x...", SNARE: "......g.......g."},
    ],
    "electronic": [
        {KICK: "X...X...X...X...", CLAP: "....X.......X...",
         OPEN: "..x...x...x...x.", CLOSED: "xo.oxo.oxo.oxo.o"},
        {KICK: "X...X...X...X...", SNARE: "....X.......X...",
         OPEN: "..x...x...x...x.", SHAKER: "oxoxoxoxoxoxoxox"},
        {KICK: "X...X...X...X..o", CLAP: "....X.......X...", OPEN: "..X...X...X...X."},
    ],
    "hiphop": [
        {KICK: "x......x..x.....", SNARE: "....X.......X...", CLOSED: "x.x.x.x.x.x.x.x."},
        {KICK: "x.....x...x..x..", SNARE: "....X.......X...", CLOSED: "x.xxx.x.x.xxx.x."},
        {KICK: "x..x......xx....", SNARE: "....X.......X..g", CLOSED: "xoxoxoxoxoxoxoxo"},
    ],
    "reggae": [
        {KICK: "........X.......", SIDE: "........X.......", CLOSED: "x.x.x.x.x.x.x.x."},
        {KICK: "........X.......", SIDE: "........X.......",
         CLOSED: "x.xxx.xxx.xxx.xx", OPEN: "..............o."},
        {KICK: "x.......X.......", SIDE: "........X.......", RIDE: "x.o.x.o.x.o.x.o."},
    ],
    "waltz": [
        {KICK: "x...........", SIDE: "....o...o...", CLOSED: "x...x...x..."},
        {KICK: "x...........", TAMBOURINE: "....x...x...", PEDAL: "....o...o..."},
        {KICK: "x.......x...", SNARE: "....g...g...", RIDE: "x...x.o.x..."},
    ],
    "ambient": [{}],
    "bossa": [
        # Surdo-like kick (1, and of 2, 3, and of 4) under a cross-stick clave.
        {KICK: "x.....x.x.....x.", SIDE: "x..x..x...x..x..", CLOSED: "o.o.o.o.o.o.o.o."},
        {KICK: "x.....x.x.....x.", SIDE: "..x..x...x..x...", SHAKER: "xoooxoooxoooxooo"},
    ],
}

CRASH_STYLES = {"rock", "funk", "electronic", "hiphop", "reggae"}
FILL_STYLES = {"rock", "funk", "swing_jazz", "hiphop", "reggae", "bossa"}


def _steps(pattern: dict[int, str], steps_per_bar: int) -> list[tuple[float, int, int]]:
    out = []
    for note, line in pattern.items():
        for step, ch in enumerate(line[:steps_per_bar]):
            if ch in VELOCITY:
                out.append((step / 4.0, note, VELOCITY[ch]))
    return out


def _fill(steps_per_bar: int, rng: np.random.Generator) -> list[tuple[float, int, int]]:
    """A snare/tom fill over the last beat or two of a phrase."""
    length = 4 if rng.random() < 0.6 else 8
    toms = [SNARE, SNARE, TOM_HIGH, TOM_HIGH, TOM_MID, TOM_MID, TOM_LOW, TOM_FLOOR]
    start = steps_per_bar - length
    out = []
    for k in range(length):
        if rng.random() < 0.15:
            continue
        note = toms[min(len(toms) - 1, int(k * len(toms) / length))] if rng.random() < 0.7 \
            else SNARE
        out.append(((start + k) / 4.0, note, int(80 + 30 * k / length)))
    return out


def drum_bar(
    style: str,
    variant: int,
    bar: int,
    phrase_bars: int,
    beats_per_bar: int,
    rng: np.random.Generator,
) -> list[tuple[float, float, int, int]]:
    """Drum hits for one bar as ``(beat, duration_beats, note, velocity)``."""
    grooves = GROOVES[style]
    pattern = grooves[variant % len(grooves)]
    if not pattern:
        return []
    steps_per_bar = 4 * beats_per_bar
    hits = _steps(pattern, steps_per_bar)
    last_of_phrase = bar % phrase_bars == phrase_bars - 1
    if last_of_phrase and style in FILL_STYLES and rng.random() < 0.8:
        fill = _fill(steps_per_bar, rng)
        cut = min(f[0] for f in fill) if fill else beats_per_bar
        hits = [h for h in hits if h[0] < cut or h[1] in (KICK, PEDAL)] + fill
    elif rng.random() < 0.25 and style not in ("electronic",):
        # A one-off extra kick or ghost: the small bar-to-bar variation of a live drummer.
        step = int(rng.integers(0, steps_per_bar))
        extra = KICK if rng.random() < 0.5 else SNARE
        hits.append((step / 4.0, extra, 40 if extra == SNARE else 75))
    if bar % phrase_bars == 0 and bar > 0 and style in CRASH_STYLES and rng.random() < 0.7:
        hits = [h for h in hits if not (h[0] == 0.0 and h[1] in (CLOSED, RIDE, OPEN))]
        hits.append((0.0, CRASH, 105))
    out = []
    for beat, note, vel in hits:
        vel = int(np.clip(vel + rng.normal(0, 6), 1, 127))
        out.append((beat, 0.25, note, vel))
    return out


def variant_count(style: str) -> int:
    return len(GROOVES[style])
