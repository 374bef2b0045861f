"""Timeline mode: the cue list of an open timeline (File > Open timeline…).

Selecting a cue makes its region of its temp file the query, so the query pane shows that
region on the file's waveform and the results pane that cue's candidates. The sliders and
filters apply to every cue, or with "Sliders and filters per cue" each cue keeps its own (a
cue not yet visited starts from the current ones). "Pick" takes the selected result for the cue (a check mark),
"Audition" plays the cue's region and then the picked (or selected) result from its match,
"Export…" writes the conformed timeline (unpicked cues keep their temp clip) and its cue
sheet as CSV and a printable HTML page.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.types import SearchResult
from app.services.playback_service import PlaybackService
from app.services.timeline_service import TIMELINE_FILTER, TimelineService, timecode
from app.ui.dialog_folders import DialogFolders
from app.ui.query_pane import FilterValues, QueryPane

COLUMNS = ("", "cue", "track", "record in", "duration", "replacement")


class TimelinePane(QWidget):
    def __init__(
        self, timeline: TimelineService, query: QueryPane, playback: PlaybackService,
        dialogs: DialogFolders, selected_result: Callable[[], SearchResult | None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.timeline, self.query, self.playback, self.dialogs = timeline, query, playback, dialogs
        self._selected_result = selected_result
        self._settings: dict[int, tuple[tuple[int, ...], FilterValues]] = {}  # per cue: sliders, filters
        self._shown: int | None = None  # the cue whose settings are on screen
        layout = QVBoxLayout(self)
        self.title = QLabel("<b>TIMELINE</b>  none open")
        layout.addWidget(self.title)
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QTableWidget.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_cue_selected)
        layout.addWidget(self.table, 1)
        self.per_cue = QCheckBox("Sliders and filters per cue")
        self.per_cue.setToolTip("Each cue keeps its own sliders and filters (off: they apply to all cues)")
        layout.addWidget(self.per_cue)
        buttons = QHBoxLayout()
        self.pick_button = QPushButton("Pick result")
        self.pick_button.setToolTip("Use the selected result for this cue")
        self.pick_button.clicked.connect(self.pick_selected)
        self.audition_button = QPushButton("▶ Cue, then result")
        self.audition_button.clicked.connect(self.audition)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Conformed timeline + cue sheet (CSV, HTML)")
        self.export_button.clicked.connect(self.export)
        for button in (self.pick_button, self.audition_button, self.export_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        timeline.cues_loaded.connect(self._on_cues)
        timeline.picks_changed.connect(self._refresh)
        timeline.exported.connect(lambda paths: self.title.setText(
            f"<b>TIMELINE</b>  exported {', '.join(Path(p).name for p in paths)}"))

    def open_timeline(self) -> None:
        path = self.dialogs.open_file(self, "Open a timeline (FCP XML, FCPXML, EDL, AAF, OTIO)", TIMELINE_FILTER)
        if path:  # an EDL's media files are looked for next to it
            self.timeline.open(path, str(Path(path).parent))

    def current_cue(self) -> int | None:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else None

    def _on_cues(self, path: str, cues: list) -> None:
        self.title.setText(f"<b>TIMELINE</b>  {Path(path).name}: {len(cues)} cues")
        self._settings, self._shown = {}, None
        self._refresh()
        if cues:
            self.table.selectRow(0)

    def _refresh(self) -> None:
        cues = self.timeline.cues
        self.table.setRowCount(len(cues))
        for row, cue in enumerate(cues):
            pick = self.timeline.picks.get(cue.index)
            cells = ("✓" if pick else "", cue.name or Path(cue.source).name, cue.track,
                     timecode(cue.record_in_s), timecode(cue.duration_s),
                     pick.result.track.display_title if pick else "(temp clip kept)")
            for col, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft)
                self.table.setItem(row, col, item)
        self.table.resizeColumnsToContents()

    def _on_cue_selected(self) -> None:
        index = self.current_cue()
        if index is None:
            return
        if self.per_cue.isChecked():
            if self._shown is not None:
                self._settings[self._shown] = (self.query.slider_values(), self.query.filter_values())
            if index in self._settings:
                sliders, filters = self._settings[index]
                self.query.set_slider_values(sliders)
                self.query.set_filter_values(filters)
        self._shown = index
        cue = self.timeline.cues[index]
        if not cue.source:
            self.title.setText(f"<b>TIMELINE</b>  cue {index}: its media file was not found")
            return
        self.query.search.load_query(cue.source, (cue.source_in_s, cue.source_out_s))

    def pick_selected(self) -> None:
        index, result = self.current_cue(), self._selected_result()
        if index is not None and result is not None:
            self.timeline.pick(index, result)

    def audition(self) -> None:
        index = self.current_cue()
        if index is None:
            return
        cue = self.timeline.cues[index]
        pick = self.timeline.picks.get(index)
        result = pick.result if pick else self._selected_result()
        if result is not None and cue.source:
            self.playback.play_then((cue.source, cue.source_in_s, cue.source_out_s),
                                    (result.track.path, result.offset_s))

    def export(self) -> None:
        if not self.timeline.cues:
            return
        source = Path(self.timeline.path)
        path = self.dialogs.save_file(self, "Export conformed timeline", f"{source.stem}-conformed{source.suffix}",
                                      TIMELINE_FILTER)
        if path:
            self.timeline.export(path)
