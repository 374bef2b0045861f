"""The query's waveform with a draggable in/out region and a playhead."""

from __future__ import annotations

import numpy as np

from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.ui.formatting import fmt_time

EDGE_PX = 6  # grab distance for the region's edges
MIN_REGION_S = 3.0  # one model window is 2.97 s: shorter regions cannot be embedded well


class WaveformWidget(QWidget):
    region_changed = Signal(float, float)  # emitted when a drag ends
    seek_requested = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setMouseTracking(True)
        self._lo = np.zeros(0, np.float32)
        self._hi = np.zeros(0, np.float32)
        self.duration_s = 0.0
        self.region = (0.0, 0.0)
        self.playhead_s: float | None = None
        self._drag: tuple[str, float, tuple[float, float]] | None = None
        self.placeholder = "Drop a clip here"

    def set_waveform(self, lo: np.ndarray, hi: np.ndarray, duration_s: float, region: tuple[float, float]) -> None:
        self._lo, self._hi, self.duration_s, self.region = lo, hi, duration_s, region
        self.update()

    def set_playhead(self, seconds: float | None) -> None:
        self.playhead_s = seconds
        self.update()

    def _x(self, seconds: float) -> float:
        return 0.0 if self.duration_s <= 0 else seconds / self.duration_s * self.width()

    def _t(self, x: float) -> float:
        return float(np.clip(x / max(1, self.width()) * self.duration_s, 0, self.duration_s))

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt override
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        w, h = self.width(), self.height()
        pal = self.palette()
        p.fillRect(self.rect(), pal.base())
        if self.duration_s <= 0 or self._lo.size == 0:
            p.setPen(pal.placeholderText().color())
            font = p.font()
            font.setPointSizeF(font.pointSizeF() * 1.3)
            p.setFont(font)
            p.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.placeholder)
            return
        x0, x1 = self._x(self.region[0]), self._x(self.region[1])
        highlight = QColor(pal.highlight().color())
        highlight.setAlpha(60)
        p.fillRect(QRectF(x0, 0, x1 - x0, h), highlight)
        mid = h / 2
        n = self._lo.size
        cols = np.arange(w)
        idx = np.minimum((cols * n / max(1, w)).astype(int), n - 1)
        pen_in = QPen(pal.highlight().color())
        pen_out = QPen(pal.mid().color())
        for x, i in zip(cols, idx, strict=False):
            p.setPen(pen_in if x0 <= x <= x1 else pen_out)
            p.drawLine(QPointF(x, mid - self._hi[i] * mid * 0.95), QPointF(x, mid - self._lo[i] * mid * 0.95))
        p.setPen(QPen(pal.highlight().color(), 2))
        p.drawLine(QPointF(x0, 0), QPointF(x0, h))
        p.drawLine(QPointF(x1, 0), QPointF(x1, h))
        label = f" in {fmt_time(self.region[0])}  out {fmt_time(self.region[1])} "
        box = p.fontMetrics().boundingRect(label)
        rect = QRectF(w - box.width() - 8, 2, box.width() + 4, box.height() + 2)
        back = QColor(pal.base().color())
        back.setAlpha(210)
        p.fillRect(rect, back)
        p.setPen(pal.text().color())
        p.drawText(rect, Qt.AlignmentFlag.AlignCenter, label)
        if self.playhead_s is not None:
            p.setPen(QPen(QColor("#e04040"), 1))
            xp = self._x(self.playhead_s)
            p.drawLine(QPointF(xp, 0), QPointF(xp, h))

    def _hit(self, x: float) -> str:
        x0, x1 = self._x(self.region[0]), self._x(self.region[1])
        if abs(x - x0) <= EDGE_PX:
            return "in"
        if abs(x - x1) <= EDGE_PX:
            return "out"
        if x0 < x < x1:
            return "move"
        return "seek"

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if self.duration_s <= 0:
            return
        x = event.position().x()
        kind = self._hit(x)
        if kind == "seek":
            self.seek_requested.emit(self._t(x))
            return
        self._drag = (kind, self._t(x), self.region)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        x = event.position().x()
        if self._drag is None:
            kind = self._hit(x) if self.duration_s > 0 else "seek"
            shape = {"in": Qt.CursorShape.SizeHorCursor, "out": Qt.CursorShape.SizeHorCursor,
                     "move": Qt.CursorShape.OpenHandCursor}.get(kind, Qt.CursorShape.PointingHandCursor)
            self.setCursor(shape)
            return
        kind, t0, (a, b) = self._drag
        dt = self._t(x) - t0
        if kind == "in":
            a = float(np.clip(a + dt, 0, b - MIN_REGION_S))
        elif kind == "out":
            b = float(np.clip(b + dt, a + MIN_REGION_S, self.duration_s))
        else:
            dt = float(np.clip(dt, -a, self.duration_s - b))
            a, b = a + dt, b + dt
        self.region = (max(0.0, a), min(self.duration_s, b))
        self.update()

    def mouseReleaseEvent(self, _event: QMouseEvent) -> None:  # noqa: N802
        if self._drag is not None:
            self._drag = None
            self.region_changed.emit(*self.region)
