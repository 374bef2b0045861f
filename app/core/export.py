"""Result lists as CSV (for spreadsheets and cue sheets) and extended M3U (for players/editors)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from app.core.types import DIMENSIONS, SearchResult
from model.atomic import write_text_atomic


def to_csv(results: Sequence[SearchResult]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "path", "title", "artist", "duration_s", "bpm", "score", "offset_s", *DIMENSIONS])
    for rank, r in enumerate(results, 1):
        t = r.track
        writer.writerow(
            [rank, t.path, t.display_title, t.artist, f"{t.duration_s:.1f}",
             "" if t.bpm is None else f"{t.bpm:.0f}", f"{r.score:.4f}", f"{r.offset_s:.2f}",
             *(f"{r.dimensions.get(d, 0.0):.4f}" for d in DIMENSIONS)]
        )
    return out.getvalue()


def to_m3u(results: Sequence[SearchResult]) -> str:
    lines = ["#EXTM3U"]
    for r in results:
        t = r.track
        name = f"{t.artist} - {t.display_title}" if t.artist else t.display_title
        lines += [f"#EXTINF:{int(round(t.duration_s))},{name}", t.path]
    return "\n".join(lines) + "\n"


def write(results: Sequence[SearchResult], path: str | Path) -> Path:
    """Write by extension (.csv or .m3u/.m3u8) atomically (temp file + rename)."""
    path = Path(path)
    text = to_csv(results) if path.suffix.lower() == ".csv" else to_m3u(results)
    write_text_atomic(path, text)
    return path
