"""Library map: 2-D projection of track vectors, coloured by cluster, results highlighted."""

from __future__ import annotations

import numpy as np

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QToolTip, QVBoxLayout, QWidget

from app.core.types import DIMENSIONS
from app.services.backends import MapData
from app.services.library_service import LibraryService

PALETTE = ("#4c8bf5", "#e3a33b", "#41a85f", "#c05bd6", "#e05a47", "#2bb3b1", "#8c6d46", "#7a7f8c",
           "#d4c020", "#5e4fa2")
MARGIN = 18
HIT_PX = 7


class MapCanvas(QWidget):
    track_clicked = Signal(str)
    track_double_clicked = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self.setMouseTracking(True)
        self.setMinimumSize(300, 240)
        self.data: MapData | None = None
        self.highlighted: dict[str, int] = {}  # path -> rank
        self.query_path = ""
        self._hover = -1

    def set_data(self, data: MapData) -> None:
        self.data = data
        self.update()

    def set_highlight(self, result_paths: list[str], query_path: str) -> None:
        self.highlighted = {p: i for i, p in enumerate(result_paths)}
        self.query_path = query_path
        self.update()

    def _to_screen(self, x: float | np.ndarray, y: float | np.ndarray) -> tuple:
        w, h = self.width() - 2 * MARGIN, self.height() - 2 * MARGIN - 20  # 20 px: the caption
        return MARGIN + (x + 1) / 2 * w, MARGIN + 20 + (1 - (y + 1) / 2) * h

    def _points(self) -> np.ndarray:
        assert self.data is not None
        xs, ys = self._to_screen(self.data.xy[:, 0], self.data.xy[:, 1])
        return np.column_stack([xs, ys])

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        if self.data is None or len(self.data.tracks) == 0:
            p.setPen(self.palette().placeholderText().color())
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "The map appears once the library is indexed")
            return
        pts = self._points()
        p.setPen(Qt.PenStyle.NoPen)
        for (x, y), c in zip(pts, self.data.clusters, strict=False):
            colour = QColor(PALETTE[int(c) % len(PALETTE)])
            colour.setAlpha(150)
            p.setBrush(colour)
            p.drawEllipse(QPointF(x, y), 4.5, 4.5)
        p.setBrush(Qt.BrushStyle.NoBrush)
        for i, track in enumerate(self.data.tracks):
            rank = self.highlighted.get(track.path)
            if track.path == self.query_path:
                p.setPen(QPen(QColor("#e04040"), 3))
                p.drawEllipse(QPointF(*pts[i]), 9, 9)
            elif rank is not None:
                p.setPen(QPen(self.palette().text().color(), 2 if rank < 10 else 1))
                p.drawEllipse(QPointF(*pts[i]), 6.5, 6.5)
                if rank < 5:
                    p.drawText(QPointF(pts[i][0] + 8, pts[i][1] - 6), str(rank + 1))
        if self.data.query_xy is not None:
            qx, qy = self._to_screen(*self.data.query_xy)
            p.setPen(QPen(QColor("#e04040"), 3))
            p.drawLine(QPointF(qx - 8, qy - 8), QPointF(qx + 8, qy + 8))
            p.drawLine(QPointF(qx - 8, qy + 8), QPointF(qx + 8, qy - 8))
            p.drawText(QPointF(qx + 10, qy + 4), "query")
        p.setPen(self.palette().text().color())
        p.drawText(QRectF(6, 4, self.width() - 12, 18), Qt.AlignmentFlag.AlignLeft,
                   f"{len(self.data.tracks)} tracks · {self.data.method.upper()} · {self.data.dimension}"
                   " · ringed: results (top 5 numbered) · red ×: the query")

    def _nearest(self, pos: QPointF) -> int:
        if self.data is None or len(self.data.tracks) == 0:
            return -1
        pts = self._points()
        d = np.hypot(pts[:, 0] - pos.x(), pts[:, 1] - pos.y())
        i = int(np.argmin(d))
        return i if d[i] <= HIT_PX else -1

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        i = self._nearest(event.position())
        if i != self._hover:
            self._hover = i
            if i >= 0 and self.data is not None:
                t = self.data.tracks[i]
                text = t.display_title + (f" — {t.artist}" if t.artist else "")
                QToolTip.showText(event.globalPosition().toPoint(), text + "\nclick plays · double-click: use as query", self)
            else:
                QToolTip.hideText()

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        i = self._nearest(event.position())
        if i >= 0 and self.data is not None:
            self.track_clicked.emit(self.data.tracks[i].path)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        i = self._nearest(event.position())
        if i >= 0 and self.data is not None:
            self.track_double_clicked.emit(self.data.tracks[i].path)


class MapView(QWidget):
    def __init__(self, library: LibraryService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Map by"))
        self.dimension = QComboBox()
        self.dimension.addItem("all dimensions", "all")
        for name in DIMENSIONS:
            self.dimension.addItem(name, name)
        self.dimension.currentIndexChanged.connect(lambda _i: self.refresh())
        row.addWidget(self.dimension)
        row.addStretch(1)
        layout.addLayout(row)
        self._query: object = None
        self.canvas = MapCanvas()
        layout.addWidget(self.canvas, 1)
        library.map_ready.connect(self.canvas.set_data)

    def refresh(self, query: object = None) -> None:
        if query is not None:
            self._query = query
        self.library.request_map(self.dimension.currentData(), self._query)
