"""Auto-tags of a loaded library: the model's tag head applied to every track vector.

Tags are a function of the track vector and the model, so the catalog stores nothing for
them and indexing costs nothing extra: the probabilities are computed once per library
load, the first time a search needs them (a tag query, the instrumental filter), in about
0.1 s per 100k tracks; a result's tags are computed for that track alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from model.tags import INSTRUMENTAL, TagModel, parse_tag_words, tag_match

CHUNK = 50_000  # tracks per numpy pass (bounded temporary memory)


class TagQueryError(ValueError):
    """A tag query or filter that cannot run; ``str(e)`` is one line."""


class LibraryTags:
    def __init__(self, model: TagModel | None, vectors: np.ndarray) -> None:
        self.model = model
        self._vectors = vectors
        self._probabilities: np.ndarray | None = None
        self._labels: dict[int, tuple[str, ...]] = {}

    @property
    def available(self) -> bool:
        return self.model is not None

    def _require(self, what: str) -> TagModel:
        if self.model is None:
            raise TagQueryError(f"{what} needs a model with auto-tags; this model has none")
        return self.model

    @property
    def probabilities(self) -> np.ndarray:
        """``(N, n_tags)`` for every track of the table (computed on first use)."""
        model = self._require("tag search")
        if self._probabilities is None:
            parts = [model.predict(self._vectors[i : i + CHUNK]) for i in range(0, len(self._vectors), CHUNK)]
            self._probabilities = np.concatenate(parts) if parts else np.zeros((0, len(model.names)), np.float32)
        return self._probabilities

    def labels(self, row: int) -> tuple[str, ...]:
        """The tags shown for one track (empty without a tag head); kept per row, since every
        slider move shows the same tracks' tags again."""
        if self.model is None:
            return ()
        found = self._labels.get(row)
        if found is None:
            probabilities = self._probabilities[row] if self._probabilities is not None else \
                self.model.predict(self._vectors[row : row + 1])[0]
            found = self._labels[row] = tuple(self.model.labels(probabilities))
        return found

    def instrumental_mask(self) -> np.ndarray:
        model = self._require("the instrumental filter")
        column = model.index(INSTRUMENTAL)
        if column is None:
            raise TagQueryError(f"this model's tags have no {INSTRUMENTAL!r} tag")
        return self.probabilities[:, column] >= model.thresholds[column]

    def parse(self, text: str) -> tuple[list[list[int]], list[str]]:
        """Tag words -> groups of tag columns (see ``model.tags.parse_tag_words``) and the
        words that matched no tag; raises when no word matched."""
        model = self._require("tag search")
        names = model.searchable_names  # uncalibrated tags cannot be searched
        groups, unknown = parse_tag_words(text, names)
        if not groups:
            raise TagQueryError(f"no known tag in {text!r}; tags are: {', '.join(n for n in names if n)}")
        return [[names.index(n) for n in g] for g in groups], unknown

    def match(self, groups: Sequence[Sequence[int]]) -> np.ndarray:
        """``(N,)`` 0–1: how well each track carries all the word groups."""
        model = self._require("tag search")
        return tag_match(self.probabilities, model.thresholds, groups)
