"""Library > Catalog…: where the library lives (a studio's PostgreSQL URL), from the next start."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog


def test_catalog_menu_saves_a_studio_url_for_the_next_start(window, monkeypatch) -> None:
    asked: list[str] = []
    url = "postgresql://editor@studio/library"
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **kw: asked.append(kw["text"]) or (f" {url} ", True))
    action = next(a for a in window.findChildren(QAction) if a.text() == "C&atalog…")
    action.trigger()
    assert asked == [""] and window.s.settings.get("setting/library_catalog") == url
    assert "next start" in window.statusBar().currentMessage()
