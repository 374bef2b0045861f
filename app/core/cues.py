"""The timeline workflow, Qt-free: search every cue of a timeline, then conform it.

    cues = list_cues(read_timeline(path), tracks, media_dir)
    found = search_cues(library, cues, weights, k)         # [(cue, [SearchResult...]), ...]
    choices = {**top_choices(found), **read_choices("choices.json")}
    conform_timeline(path, out, cues, choices)        # app.core.timeline

``soundalike cues`` / ``soundalike conform`` and the GUI's timeline mode call these.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.query import SearchError
from app.core.timeline import (
    Cue,
    Replacement,
    TimelineError,
)
from app.core.types import SearchFilters, SearchResult, SearchWeights

if TYPE_CHECKING:
    from app.core.library import Library

CueResults = list[tuple[Cue, list[SearchResult]]]


def search_cue(
    library: Library, cue: Cue, weights: SearchWeights, k: int, filters: SearchFilters | None = None
) -> list[SearchResult]:
    """Rank the library for one cue's region of its source file."""
    if not cue.source:
        raise SearchError(f"cue {cue.index} ({cue.name or 'unnamed'}): its media file was not found "
                          "(for an EDL, pass --media-dir with the temp files)")
    query = library.prepare_query(cue.source, cue.source_in_s, cue.source_out_s)
    return library.search(query, weights, k, filters)


def search_cues(
    library: Library, cues: Sequence[Cue], weights: SearchWeights, k: int,
    filters: SearchFilters | None = None,
) -> CueResults:
    return [(cue, search_cue(library, cue, weights, k, filters)) for cue in cues]


def top_choices(found: CueResults) -> dict[int, Replacement]:
    """Each cue's top result, at its best offset."""
    return {
        cue.index: Replacement(results[0].track.path, results[0].offset_s, results[0].track.duration_s or None)
        for cue, results in found if results
    }


def read_choices(path: str | os.PathLike[str]) -> dict[int, Replacement]:
    """``{"0": {"path": ..., "offset_s": ...}, ...}`` -> replacements by cue index."""
    from model.audio import AudioError, audio_duration

    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        choices = {int(k): (str(v["path"]), float(v.get("offset_s", 0.0))) for k, v in raw.items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise TimelineError(f"cannot read choices {path}: {exc}") from None
    out = {}
    for index, (file, offset) in choices.items():
        try:
            duration: float | None = audio_duration(file)
        except AudioError:
            duration = None  # placed as asked; the editor shows what is missing
        out[index] = Replacement(file, offset, duration)
    return out
