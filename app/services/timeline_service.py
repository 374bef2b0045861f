"""Timeline mode's state: the open timeline's cues, the replacement picked per cue, and export.

Reading and writing timelines run on the io pool; the GUI thread only receives results.
Each cue is searched through the ordinary SearchService (the cue's region of its source is
the query), so sliders, filters, audition and the results list work as for a dropped clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.cue_sheet import CueSheetRow, timecode, write_csv, write_html
from app.core.timeline import Cue, Replacement, conform_timeline, list_cues, read_timeline
from app.core.types import SearchResult
from app.services.workers import ErrorSink, GeneratorWorker, Pools

__all__ = ["TIMELINE_FILTER", "Pick", "TimelineService", "timecode", "write_conform"]

TIMELINE_FILTER = "Timelines (*.xml *.fcpxml *.edl *.aaf *.otio);;All files (*)"


@dataclass(frozen=True)
class Pick:
    """The replacement chosen for one cue."""

    result: SearchResult

    @property
    def replacement(self) -> Replacement:
        track = self.result.track
        return Replacement(track.path, self.result.offset_s, track.duration_s or None)


class TimelineService(QObject):
    cues_loaded = Signal(str, list)  # timeline path, list[Cue]
    picks_changed = Signal()
    exported = Signal(list)  # paths written

    def __init__(self, pools: Pools, errors: ErrorSink) -> None:
        super().__init__()
        self._pools = pools
        self._errors = errors
        self.path = ""
        self.cues: list[Cue] = []
        self.picks: dict[int, Pick] = {}

    def open(self, path: str, media_dir: str | None = None) -> None:
        worker = GeneratorWorker(lambda: list_cues(read_timeline(path), None, media_dir), task="reading the timeline")
        worker.signals.finished.connect(lambda cues: self._on_loaded(path, cues))
        worker.signals.errored.connect(self._errors.report)
        self._pools.start("io", worker)

    def _on_loaded(self, path: str, cues: list[Cue]) -> None:
        self.path, self.cues, self.picks = path, cues, {}
        self.cues_loaded.emit(path, cues)

    def pick(self, cue_index: int, result: SearchResult) -> None:
        self.picks[cue_index] = Pick(result)
        self.picks_changed.emit()

    def export(self, out_path: str) -> None:
        """Write the conformed timeline (format from the extension) and its cue sheet (.csv, .html)."""
        cues, picks, source = list(self.cues), dict(self.picks), self.path
        worker = GeneratorWorker(lambda: write_conform(source, out_path, cues, picks), task="exporting the timeline")
        worker.signals.finished.connect(self.exported.emit)
        worker.signals.errored.connect(self._errors.report)
        self._pools.start("io", worker)


def write_conform(source: str, out_path: str, cues: list[Cue], picks: dict[int, Pick]) -> list[str]:
    """Unpicked cues keep their temp clip. Returns the files written."""
    conform_timeline(source, out_path, cues, {i: p.replacement for i, p in picks.items()})
    rows = [
        CueSheetRow(cue.index, cue.name, cue.record_in_s, cue.duration_s, p.result.track.path,
                    p.replacement.offset_s, p.result.track.artist, p.result.track.album)
        for cue in cues if (p := picks.get(cue.index)) is not None
    ]
    out = Path(out_path)
    sheet_csv, sheet_html = out.with_suffix(".cues.csv"), out.with_suffix(".cues.html")
    write_csv(sheet_csv, rows)
    write_html(sheet_html, rows, Path(source).name)
    return [str(out), str(sheet_csv), str(sheet_html)]
