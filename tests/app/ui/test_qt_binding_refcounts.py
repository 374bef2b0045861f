"""Guard against PySide6 6.12.0's refcount bug on CPython 3.11: every void method call dropped a
reference to None (and bool results one to True/False), so a GUI crashed with
"none_dealloc: deallocating None" after some ten thousand paint calls. pyproject pins <6.12."""

from __future__ import annotations

import sys

from PySide6.QtCore import QObject, QPointF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QLabel


def test_void_and_bool_calls_keep_none_and_bools_alive(qapp) -> None:
    label, obj = QLabel(), QObject()
    image = QImage(32, 32, QImage.Format.Format_ARGB32)
    painter = QPainter(image)
    try:
        calls = [
            lambda: painter.drawLine(QPointF(0, 0), QPointF(5, 5)),
            lambda: obj.setObjectName("x"),
            lambda: label.setText("x"),
            lambda: label.isVisible(),
        ]
        for call in calls:
            call()  # warm any caches
        before = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
        for _ in range(200):
            for call in calls:
                call()
        after = sys.getrefcount(None), sys.getrefcount(True), sys.getrefcount(False)
    finally:
        painter.end()
    assert all(abs(a - b) < 50 for a, b in zip(after, before, strict=True)), (before, after)
