"""Ranked results: table model, per-dimension bars delegate, drag-out as file URLs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from PySide6.QtCore import (
    QAbstractTableModel,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    Qt,
    QUrl,
)
from PySide6.QtGui import QColor, QFont, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
)

from app.core.types import DIMENSIONS, SearchResult, display_path
from app.ui.formatting import fmt_time

COLUMNS = ("#", "Title", "Artist", "Dur", "BPM", "Score", "G  M  I  T", "Match at", "Tags")
BARS_COLUMN = 6
BAR_FLOOR = 0.04  # a result unrelated in a dimension still shows a sliver of that bar
BAR_COLOURS = ("#4c8bf5", "#e3a33b", "#41a85f", "#c05bd6")  # genre, mood, instrument, tempo
Index = QModelIndex | QPersistentModelIndex


DISPLAY = Qt.ItemDataRole.DisplayRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
ALIGN = Qt.ItemDataRole.TextAlignmentRole
USER = Qt.ItemDataRole.UserRole
RIGHT = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
RIGHT_COLUMNS = frozenset((0, 3, 4, 5, 7))
ROW_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled



def file_url(path: str) -> QUrl:
    """A file:// URL of the path's exact bytes (``fromLocalFile`` loses a non-UTF-8 name)."""
    return QUrl.fromEncoded(b"file://" + quote(os.fsencode(path)).encode("ascii"))

class ResultsModel(QAbstractTableModel):
    """Display strings are formatted once per result list: the view asks ``data`` a thousand
    times a repaint, and slider drags repaint continuously."""

    def __init__(self) -> None:
        super().__init__()
        self.results: list[SearchResult] = []
        self._text: list[tuple[str, ...]] = []

    def set_results(self, results: list[SearchResult]) -> None:
        self.beginResetModel()
        self.results = list(results)
        self._text = [self._format(i, r) for i, r in enumerate(self.results)]
        self.endResetModel()

    def bar_fraction(self, row: int, dimension: str) -> float:
        """Bar height: the calibrated similarity (0 = unrelated in this library, 1 = identical),
        the same scale in every list and dimension; hover shows the numbers."""
        value = self.results[row].dimensions.get(dimension, 0.0)
        return BAR_FLOOR + (1 - BAR_FLOOR) * min(1.0, max(0.0, value))

    def _format(self, row: int, r: SearchResult) -> tuple[str, ...]:
        t = r.track
        return (str(row + 1), t.display_title, t.artist, fmt_time(t.duration_s),
                "" if t.bpm is None else f"{t.bpm:.0f}", f"{r.score:.2f}", "",
                fmt_time(r.offset_s), ", ".join(r.tags))

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.results)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        return len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = DISPLAY) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == TOOLTIP and section == BARS_COLUMN:
            return ("Similarity per dimension (genre, mood, instrument, tempo): an empty bar is what "
                    "two unrelated tracks of this library get, a full bar is identical; hover a row "
                    "for the numbers")
        return None

    def data(self, index: Index, role: int = DISPLAY) -> Any:
        row, col = index.row(), index.column()
        if role == DISPLAY:
            return self._text[row][col] if 0 <= row < len(self._text) else None
        if role == ALIGN:
            return RIGHT if col in RIGHT_COLUMNS else None
        if not 0 <= row < len(self.results):
            return None
        r = self.results[row]
        if role == USER:
            return r
        if role == TOOLTIP:
            if col == BARS_COLUMN:
                return "\n".join(f"{d.capitalize()}: {r.dimensions.get(d, 0.0):.2f}"
                                 f"  (cosine {r.raw.get(d, 0.0):.4f})" for d in DIMENSIONS)
            if col == 5:
                return (f"Slider-weighted similarity: 0 = unrelated, 1 = identical "
                        f"(Σ weight × cosine = {r.score_raw:.4f})")
            if col == 7:
                return "Where the best-matching part starts; Enter plays from here"
            return display_path(r.track.path)
        return None

    def flags(self, index: Index) -> Qt.ItemFlag:
        return ROW_FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def mimeTypes(self) -> list[str]:  # noqa: N802
        return ["text/uri-list"]

    def mimeData(self, indexes: list[QModelIndex]) -> QMimeData:  # noqa: N802
        """File URLs, so a row dropped on a desktop or an editor's bin lands as the file."""
        rows = sorted({i.row() for i in indexes})
        mime = QMimeData()
        mime.setUrls([file_url(self.results[row].track.path) for row in rows])
        mime.setText("\n".join(display_path(self.results[row].track.path) for row in rows))
        return mime

    def supportedDragActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.CopyAction


class BarsDelegate(QStyledItemDelegate):
    """Four small bars per row, one per dimension (see ``ResultsModel.bar_fraction``)."""

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        if option.state & QStyle.StateFlag.State_Selected:
            painter.fillRect(option.rect, option.palette.highlight())
        model = index.model()
        row = index.row()
        rect = option.rect.adjusted(4, 4, -4, -4)
        gap = 4
        width = (rect.width() - gap * 3) / 4
        painter.save()
        for i, (name, colour) in enumerate(zip(DIMENSIONS, BAR_COLOURS, strict=False)):
            value = model.bar_fraction(row, name) if isinstance(model, ResultsModel) else 0.0
            x = rect.x() + i * (width + gap)
            painter.fillRect(QRectF(x, rect.y(), width, rect.height()), QColor(colour).lighter(175))
            h = rect.height() * value
            painter.fillRect(QRectF(x, rect.bottom() + 1 - h, width, h), QColor(colour))
        painter.restore()


class ResultsView(QTableView):
    def __init__(self) -> None:
        super().__init__()
        self.results_model = ResultsModel()
        self.setModel(self.results_model)
        self.setItemDelegateForColumn(BARS_COLUMN, BarsDelegate(self))  # others: Qt's own, in C++
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setAlternatingRowColors(True)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        self.setShowGrid(False)
        self.setTabKeyNavigation(False)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 10)
        header = self.horizontalHeader()
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        for col, width in ((0, 34), (2, 120), (3, 52), (4, 48), (5, 56), (6, 92), (7, 72), (8, 180)):
            header.resizeSection(col, width)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)

    placeholder = "Drop a clip here\n\nor press Ctrl+O to open one: tracks that feel the same appear here"

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        super().paintEvent(event)
        if self.results_model.rowCount() == 0:
            painter = QPainter(self.viewport())
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.4)
            painter.setFont(font)
            painter.setPen(self.palette().placeholderText().color())
            painter.drawText(self.viewport().rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)

    def set_results(self, results: list[SearchResult]) -> None:
        """Replace the list, keeping the selected track selected when it is still there."""
        current = self.current_result()
        self.results_model.set_results(results)
        if not results:
            return
        row = 0
        if current is not None:
            for i, r in enumerate(results):
                if r.track.path == current.track.path:
                    row = i
                    break
        self.selectRow(row)

    def current_row(self) -> int:
        index = self.currentIndex()
        return index.row() if index.isValid() else -1

    def current_result(self) -> SearchResult | None:
        row = self.current_row()
        results = self.results_model.results
        return results[row] if 0 <= row < len(results) else None

    def move(self, delta: int) -> SearchResult | None:
        count = self.results_model.rowCount()
        if count == 0:
            return None
        row = min(count - 1, max(0, self.current_row() + delta))
        self.selectRow(row)
        return self.current_result()

    def upcoming_paths(self, ahead: int = 3) -> list[str]:
        row = max(0, self.current_row())
        return [r.track.path for r in self.results_model.results[row : row + ahead + 1]]


def reveal_target(path: str) -> QUrl:
    """The folder holding ``path`` (opened by the system file manager)."""
    return QUrl.fromLocalFile(str(Path(path).parent))
