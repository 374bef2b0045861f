"""The cue sheet a conform comes with: one row per replaced cue, as CSV and a printable HTML page.

Columns: cue, name, record time (h:mm:ss.ff at seconds resolution), duration, replacement
file, offset into it, artist and album (from the catalog's tags).
"""

from __future__ import annotations

import csv
import html
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from model.atomic import write_text_atomic


@dataclass(frozen=True)
class CueSheetRow:
    cue: int
    name: str
    record_in_s: float
    duration_s: float
    replacement: str
    offset_s: float
    artist: str = ""
    album: str = ""


HEADER = ("cue", "name", "record in", "duration", "replacement", "offset", "artist", "album")


def timecode(seconds: float) -> str:
    """``h:mm:ss.ss`` (editors read record times this way; frames depend on the project)."""
    minutes, secs = divmod(max(0.0, seconds), 60.0)
    hours, minutes = divmod(int(minutes), 60)
    return f"{hours}:{minutes:02d}:{secs:05.2f}"


def _cells(row: CueSheetRow) -> list[str]:
    return [str(row.cue), row.name, timecode(row.record_in_s), timecode(row.duration_s),
            os.path.basename(row.replacement), timecode(row.offset_s), row.artist, row.album]


def write_csv(path: str | os.PathLike[str], rows: Sequence[CueSheetRow]) -> None:
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows(_cells(r) for r in rows)
    write_text_atomic(Path(path), out.getvalue())


def write_html(path: str | os.PathLike[str], rows: Sequence[CueSheetRow], title: str) -> None:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows
    )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse}"
        "td,th{border:1px solid #999;padding:4px 8px;text-align:left}</style></head>"
        f"<body><h1>Cue sheet: {html.escape(title)}</h1><table><tr>{head}</tr>{body}</table></body></html>\n"
    )
    write_text_atomic(Path(path), page)
