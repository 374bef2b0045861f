"""The corpus plan: which labels each clip gets, sampled independently and deterministically.

Each dimension (genre, mood, instrument, tempo bin, soundfont, split) is assigned by block
randomisation from its own random stream: within every block of ``len(values)`` clips each
value appears once, in a shuffled order. The marginals stay balanced even for a 40-clip demo,
the dimensions are independent of each other (separate streams), and clip ``i``'s labels
depend only on ``(seed, i)``, so asking for more clips later extends the same corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.synth.instruments import INSTRUMENTS
from model.synth.moods import MOOD_NAMES
from model.synth.styles import GENRES

BPM_RANGE = (60, 180)
TEMPO_BINS = 12  # 10-BPM bins, so tempo is spread evenly too
SPLITS = ("train",) * 8 + ("val", "test")  # 80/10/10

_STREAMS = {"genre": 1, "mood": 2, "instrument": 3, "tempo": 4, "soundfont": 5, "split": 6}


@dataclass(frozen=True)
class ClipSpec:
    """One planned clip: its labels, the soundfont that renders it and its own seed."""

    index: int
    genre: str
    mood: str
    instrument: str
    bpm: int
    soundfont: str  # path to the .sf2/.sf3
    split: str
    seed: int

    @property
    def soundfont_name(self) -> str:
        name = self.soundfont.replace("\\", "/").rsplit("/", 1)[-1]
        return name.rsplit(".", 1)[0]


def _blocked(seed: int, stream: str, values: tuple, index: int):
    """Block-randomised value for ``index``: a fresh permutation every ``len(values)`` clips."""
    block, pos = divmod(index, len(values))
    rng = np.random.default_rng([seed, _STREAMS[stream], block])
    return values[int(rng.permutation(len(values))[pos])]


def clip_seed(seed: int, index: int) -> int:
    """The per-clip seed (stored in labels.csv) from which all of a clip's music derives."""
    return int(np.random.SeedSequence([seed, 99, index]).generate_state(1, dtype=np.uint32)[0])


def plan_clip(seed: int, index: int, soundfonts: tuple[str, ...]) -> ClipSpec:
    """The spec of clip ``index`` of the corpus with ``seed``."""
    tempo_bin = _blocked(seed, "tempo", tuple(range(TEMPO_BINS)), index)
    width = (BPM_RANGE[1] - BPM_RANGE[0]) / TEMPO_BINS
    rng = np.random.default_rng([seed, 7, index])
    bpm = int(min(BPM_RANGE[1], round(BPM_RANGE[0] + (tempo_bin + rng.random()) * width)))
    return ClipSpec(
        index=index,
        genre=_blocked(seed, "genre", GENRES, index),
        mood=_blocked(seed, "mood", MOOD_NAMES, index),
        instrument=_blocked(seed, "instrument", INSTRUMENTS, index),
        bpm=bpm,
        soundfont=_blocked(seed, "soundfont", tuple(soundfonts), index),
        split=_blocked(seed, "split", SPLITS, index),
        seed=clip_seed(seed, index),
    )


def plan(seed: int, count: int, soundfonts: tuple[str, ...]) -> list[ClipSpec]:
    """The first ``count`` clips of the corpus with ``seed``."""
    if not soundfonts:
        raise ValueError("at least one soundfont is needed")
    return [plan_clip(seed, i, soundfonts) for i in range(count)]
