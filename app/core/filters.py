"""Which tracks pass a search's filters (``SearchFilters``): BPM and duration bounds,
excluded files, recordings and albums, instrumental only.

A slider move asks again with the same filters, and a search excludes its own query file,
so ``TrackFilter`` keeps the last mask and the look-ups that make one cheap. It needs only
the track table and its tags, not the engine's per-query state, so it lives apart from the
engine (app.core.search), which asks it for every search.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from app.core.types import SearchFilters

if TYPE_CHECKING:
    from app.core.auto_tags import LibraryTags
    from app.core.catalog import TrackTable


class TrackFilter:
    """The filter masks of one engine's ``table``."""

    def __init__(self, table: TrackTable, tags: LibraryTags) -> None:
        self.table = table
        self.tags = tags
        self._row_of_path: dict[str, int] | None = None  # made when many paths are excluded at once
        self._path_lookups = 0
        self._last_mask: tuple[SearchFilters, np.ndarray] | None = None  # slider moves keep their filters
        self._albums = np.array(table.albums, dtype=object)
        self._fingerprints = np.array(table.fingerprints or [None] * len(table), dtype=object)

    def mask(self, filters: SearchFilters) -> np.ndarray:
        """Boolean ``(N,)``, read-only: rows that pass. Unknown BPM/duration fail a bound on them.

        The last one is kept: a slider move asks again with the same filters (excluding the
        query's own file by content compares every track's fingerprint, ~2 ms at 100k)."""
        last = self._last_mask
        if last is not None and last[0] == filters:
            return last[1]
        mask = self._mask(filters)
        mask.flags.writeable = False
        self._last_mask = (filters, mask)
        return mask

    def _row_of(self, path: str) -> int | None:
        """The row of ``path``; a few look-ups scan the paths (a search excludes its one query
        file), and the dict of every path (35 ms at 100k) is made only for the tenth."""
        if self._row_of_path is None:
            self._path_lookups += 1
            if self._path_lookups < 10:
                try:
                    return self.table.paths.index(path)
                except ValueError:
                    return None
            self._row_of_path = {p: i for i, p in enumerate(self.table.paths)}
        return self._row_of_path.get(path)

    def _mask(self, filters: SearchFilters) -> np.ndarray:
        t = self.table
        mask = np.ones(len(t), dtype=bool)
        with np.errstate(invalid="ignore"):  # NaN compares False: unknown values fail bounds
            if filters.bpm_min is not None:
                mask &= t.bpm >= filters.bpm_min
            if filters.bpm_max is not None:
                mask &= t.bpm <= filters.bpm_max
            if filters.duration_min_s is not None:
                mask &= t.duration_s >= filters.duration_min_s
            if filters.duration_max_s is not None:
                mask &= t.duration_s <= filters.duration_max_s
        for path in filters.exclude_paths:
            row = self._row_of(path)
            if row is not None:
                mask[row] = False
        if filters.exclude_fingerprints:
            mask &= ~np.isin(self._fingerprints, list(filters.exclude_fingerprints))
        albums = [a for a in filters.exclude_albums if a]
        if albums:
            mask &= ~np.isin(self._albums, albums)
        if filters.instrumental:
            mask &= self.tags.instrumental_mask()
        return mask
