"""The auto-tag vocabulary: what an editor sees, built from the teacher's 100 outputs.

The two taggers overlap and split hairs ("female vocalists", "female vocalist", "female",
"woman", "female vocal", "female voice"). The shipped head predicts one tag per idea:

- genre: MSD's genres, plus MTT's styles that MSD lacks (classical, choral, new age, ...);
- mood: MSD's moods plus MTT's loud / quiet / soft;
- instrument: MTT's instruments plus MSD's "acoustic";
- vocal: "instrumental", "vocals", "female vocals", "male vocals", "choir", each the mean of
  the teacher outputs that say the same thing.

Era and tempo tags are left out (no slider, and tempo comes from the audio). A tag's target
is the largest of its sources' probabilities (synonyms split the taggers' mass, so any one
of them saying it counts). ``truth`` turns teacher probabilities into the yes/no labels that
precision and recall are reported against: the teacher's top tags of each group
(``TOP_PER_GROUP``) that also reach the group's ``MIN_TRUTH`` (the taggers are soft, and
softer for moods and voices: measured mean top target per track on our corpora, genre .38,
instrument .25-.33, mood .05-.10, vocal .06-.08).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.tags import TOP_PER_GROUP
from model.training.teacher_tags import MSD_GROUPS, MSD_TAGS, MTT_GROUPS, MTT_TAGS

MIN_TRUTH = {"genre": 0.1, "mood": 0.05, "instrument": 0.1, "vocal": 0.05}

_MERGED_VOCAL: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # name: (MSD, MTT)
    "instrumental": (("instrumental",), ("no vocals", "no vocal", "no voice")),
    "vocals": ((), ("vocal", "vocals", "singing", "voice")),
    "female vocals": (("female vocalists", "female vocalist"), ("female", "woman", "female vocal", "female voice")),
    "male vocals": (("male vocalists",), ("male", "man", "male vocal", "male voice")),
    "choir": ((), ("choir",)),
}


@dataclass(frozen=True)
class TagSpec:
    name: str
    group: str
    msd: tuple[int, ...]  # output units of MSD_musicnn averaged into this tag
    mtt: tuple[int, ...]


def _build() -> tuple[TagSpec, ...]:
    specs: list[TagSpec] = []
    seen: set[str] = set()

    def add(name: str, group: str, msd: tuple[str, ...], mtt: tuple[str, ...]) -> None:
        key = name.lower()
        if key in seen:
            return
        seen.add(key)
        specs.append(TagSpec(key, group, tuple(MSD_TAGS.index(t) for t in msd),
                             tuple(MTT_TAGS.index(t) for t in mtt)))

    for group in ("genre", "mood"):
        for tag in MSD_GROUPS[group]:
            add(tag, group, (tag,), ())
        for tag in MTT_GROUPS[group]:
            if tag != "weird":  # too vague to show an editor
                add(tag, group, (), (tag,))
    for tag in MTT_GROUPS["instrument"]:
        if tag not in ("beat", "beats", "solo"):  # not instruments an editor filters by
            add(tag, "instrument", (), (tag,))
    add("acoustic", "instrument", ("acoustic",), ())
    for name, (msd, mtt) in _MERGED_VOCAL.items():
        add(name, "vocal", msd, mtt)
    return tuple(specs)


VOCABULARY: tuple[TagSpec, ...] = _build()
NAMES: tuple[str, ...] = tuple(s.name for s in VOCABULARY)
GROUPS: tuple[str, ...] = tuple(s.group for s in VOCABULARY)


def targets(msd: np.ndarray, mtt: np.ndarray) -> np.ndarray:
    """``(n, 50)`` MSD and ``(n, 50)`` MTT probabilities -> ``(n, len(VOCABULARY))``."""
    msd = np.asarray(msd, dtype=np.float32)
    mtt = np.asarray(mtt, dtype=np.float32)
    columns = [np.concatenate([msd[:, list(s.msd)], mtt[:, list(s.mtt)]], axis=1).max(axis=1)
               for s in VOCABULARY]
    return np.stack(columns, axis=1)


def truth(target: np.ndarray) -> np.ndarray:
    """Yes/no labels from teacher targets: per group the top ``TOP_PER_GROUP`` tags that reach
    the group's ``MIN_TRUTH``."""
    target = np.asarray(target, dtype=np.float32)
    labels = np.zeros(target.shape, dtype=bool)
    for group, top in TOP_PER_GROUP.items():
        cols = np.array([i for i, g in enumerate(GROUPS) if g == group])
        order = np.argsort(-target[:, cols], axis=1)[:, :top]
        chosen = cols[order]
        rows = np.arange(target.shape[0])[:, None]
        labels[rows, chosen] = target[rows, chosen] >= MIN_TRUTH[group]
    return labels
