"""Auto-tags: a light head on the track embedding that predicts the teacher's tags.

The head is a two-layer perceptron (256 -> hidden -> n_tags, sigmoid) trained after the
encoder on the musicnn teacher's tag probabilities (``model.training.tag_head``); it runs
on the block-normalised *track* vector, so tagging costs two small matrix products per
track at index time, in numpy (no torch needed to apply it).

A model file may carry it under the key ``"tag_head"``::

    {"names": [...], "groups": [...],             # one group per tag: genre, mood,
                                                  # instrument or vocal
     "thresholds": [...],                         # per tag, calibrated on held-out real music
     "w1": (hidden, 256), "b1": (hidden,), "w2": (n_tags, hidden), "b2": (n_tags,)}

``TagModel.predict`` gives probabilities; ``TagModel.labels`` the tags above their
thresholds, best first, at most ``TOP_PER_GROUP`` of each group. A tag whose threshold is
infinite could not be calibrated (too few held-out examples) and is never shown or searched. ``INSTRUMENTAL`` names the tag that the "instrumental only" filter
reads.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

TAG_GROUPS: tuple[str, ...] = ("genre", "mood", "instrument", "vocal")
TOP_PER_GROUP = {"genre": 2, "mood": 2, "instrument": 3, "vocal": 1}  # tags shown per track
INSTRUMENTAL = "instrumental"
KEY = "tag_head"


@dataclass(frozen=True)
class TagModel:
    names: tuple[str, ...]
    groups: tuple[str, ...]
    thresholds: np.ndarray  # (n_tags,)
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    b2: np.ndarray

    def __post_init__(self) -> None:
        n = len(self.names)
        if len(self.groups) != n or self.thresholds.shape != (n,) or self.w2.shape[0] != n:
            raise ValueError("tag head: names, groups, thresholds and weights disagree in size")
        unknown = set(self.groups) - set(TAG_GROUPS)
        if unknown:
            raise ValueError(f"tag head: unknown tag groups {sorted(unknown)}")

    def predict(self, vectors: np.ndarray) -> np.ndarray:
        """``(N, 256)`` track vectors -> ``(N, n_tags)`` probabilities (float32)."""
        x = np.asarray(vectors, dtype=np.float32).reshape(-1, self.w1.shape[1])
        hidden = np.maximum(x @ self.w1.T + self.b1, 0.0)
        logits = hidden @ self.w2.T + self.b2
        return (1.0 / (1.0 + np.exp(-np.clip(logits, -30.0, 30.0)))).astype(np.float32)

    def labels(self, probabilities: np.ndarray) -> list[str]:
        """Tags whose probability passes their threshold, most confident (relative to the
        threshold) first, at most ``TOP_PER_GROUP`` per group."""
        p = np.asarray(probabilities, dtype=np.float32)
        margin = p / np.maximum(self.thresholds, 1e-6)
        shown: list[str] = []
        left = dict(TOP_PER_GROUP)
        for i in np.argsort(-margin, kind="stable"):
            if p[i] >= self.thresholds[i] and left.get(self.groups[i], 0) > 0:
                left[self.groups[i]] -= 1
                shown.append(self.names[i])
        return shown

    @property
    def searchable_names(self) -> tuple[str, ...]:
        """``names`` with the uncalibrated tags blanked (same positions)."""
        return tuple(n if np.isfinite(t) else "" for n, t in zip(self.names, self.thresholds, strict=True))

    def index(self, name: str) -> int | None:
        return self.names.index(name) if name in self.names else None

    def to_payload(self) -> dict[str, Any]:
        import torch  # only when writing a model file (training side)

        return {
            "names": list(self.names),
            "groups": list(self.groups),
            "thresholds": [float(t) for t in self.thresholds],
            **{k: torch.from_numpy(np.ascontiguousarray(getattr(self, k), dtype=np.float32))
               for k in ("w1", "b1", "w2", "b2")},
        }

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> TagModel:
        def array(key: str) -> np.ndarray:
            value = payload[key]
            return np.asarray(value.numpy() if hasattr(value, "numpy") else value, dtype=np.float32)

        return cls(
            names=tuple(str(n) for n in payload["names"]),
            groups=tuple(str(g) for g in payload["groups"]),
            thresholds=np.asarray(payload["thresholds"], dtype=np.float32),
            w1=array("w1"), b1=array("b1"), w2=array("w2"), b2=array("b2"),
        )


def parse_tag_words(text: str, names: Sequence[str]) -> tuple[list[list[str]], list[str]]:
    """Split ``"calm piano"`` into groups of tag names, one group per word, and unknown words.

    A word (or two or three words in a row, for tags such as ``"female vocalists"``) matches
    a tag by its name, case-insensitive, a hyphen or space alike; or through ``SYNONYMS``,
    which may give several tags (``"calm"`` -> chill, mellow, quiet, ...). Search treats a
    group as *any of* its tags and the groups as *all of* them.
    """
    lowered = {n.lower().replace("-", " "): n for n in names if n}
    words = text.lower().replace(",", " ").replace("-", " ").split()
    groups: list[list[str]] = []
    unknown: list[str] = []
    i = 0
    while i < len(words):
        for length in (3, 2, 1):  # the longest tag name first
            if i + length > len(words):
                continue
            phrase = " ".join(words[i : i + length])
            found = [lowered[phrase]] if phrase in lowered else []
            found += [lowered[s] for s in SYNONYMS.get(phrase, ()) if s in lowered and lowered[s] not in found]
            if found:
                groups.append(found)
                i += length
                break
        else:
            unknown.append(words[i])
            i += 1
    return groups, unknown


def tag_match(probabilities: np.ndarray, thresholds: np.ndarray, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """``(N,)`` in 0–1: how well each track carries *all* word groups (each *any* of its tags).

    Per tag ``p / (p + threshold)``: 0.5 exactly at the calibrated threshold, toward 1 as the
    tag gets more certain, so tracks above the threshold still rank among themselves.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    per_tag = p / (p + np.maximum(np.asarray(thresholds, dtype=np.float32), 1e-6))
    if not groups:
        return np.zeros(p.shape[0], dtype=np.float32)
    return np.mean([per_tag[:, list(g)].max(axis=1) for g in groups], axis=0).astype(np.float32)


# Everyday words an editor types, mapped to the teacher's tag names (MSD Last.fm / MTT).
SYNONYMS: dict[str, tuple[str, ...]] = {
    "calm": ("chill", "mellow", "chillout", "quiet", "soft"),
    "relaxing": ("chill", "chillout", "easy listening", "mellow"),
    "happy": ("happy", "party"),
    "sad": ("sad", "beautiful"),
    "energetic": ("party", "fast", "loud"),
    "dark": ("weird",),
    "epic": ("classical", "choral"),
    "orchestral": ("classical", "strings"),
    "vocal": ("vocal", "vocals", "singing"),
    "vocals": ("vocal", "vocals", "singing"),
    "voice": ("vocal", "vocals", "singing", "voice"),
    "guitars": ("guitar",),
    "drum": ("drums",),
    "synths": ("synth",),
    "electro": ("electronic", "electronica"),
    "hiphop": ("hip-hop", "hip hop"),
    "rnb": ("rnb",),
}
