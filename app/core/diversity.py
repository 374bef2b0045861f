"""Diverse results: at most N per album or artist, so one album does not fill the list.

A result belongs to its album and to its artist (tags, compared case-insensitively); a
track with neither tag belongs to its folder, which in most libraries is the album. A
result is kept while every group it belongs to has fewer than N kept results; the order of
the kept results is the ranking's. When that leaves fewer than k (a library of one album,
or one artist), the results it held back follow in rank order, so the list stays full.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence

from app.core.types import SearchResult, TrackInfo

OVERFETCH = 4  # ranked results asked for per result shown, when diversifying


def group_keys(track: TrackInfo) -> tuple[str, ...]:
    keys = [f"{kind}:{value.strip().casefold()}" for kind, value in
            (("album", track.album), ("artist", track.artist)) if value.strip()]
    return tuple(keys) or (f"folder:{os.path.dirname(track.path)}",)


def diversify(results: Sequence[SearchResult], max_per_group: int, k: int) -> list[SearchResult]:
    """The first ``k`` of ``results`` with at most ``max_per_group`` per album/artist/folder first."""
    counts: Counter[str] = Counter()
    kept, held_back = [], []
    for result in results:
        keys = group_keys(result.track)
        if all(counts[key] < max_per_group for key in keys):
            kept.append(result)
            counts.update(keys)
            if len(kept) == k:
                return kept
        else:
            held_back.append(result)
    return (kept + held_back)[:k]
