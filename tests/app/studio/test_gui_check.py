"""Library ▸ Check catalog…: the app checks its catalog, SQLite or a studio's PostgreSQL, off
the GUI thread and shows what is wrong in a window that does not block it."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMessageBox

from app.core.catalog import Catalog, TrackRecord
from tests.app.services.harness import no_dangling_threads  # noqa: F401 - fails a test leaving threads


def _broken_catalog(where: str) -> None:
    """Three tracks, one of which lost its vectors to an outside hand."""
    vectors = np.ones((3, 256), np.float16)
    with Catalog.open(where) as catalog:
        catalog.write_batch([TrackRecord(f"/m/{i}.wav", 1, 1, 6.0, {}, "m", track=vectors[i],
                                         windows=vectors[i : i + 1]) for i in range(3)])  # fmt: skip
        gone = catalog.find_track("/m/1.wav").track_id
    if where.startswith("postgresql://"):
        import psycopg

        with psycopg.connect(where, autocommit=True) as outside:
            outside.execute("DELETE FROM embeddings WHERE track_id = %s", (gone,))
    else:
        with sqlite3.connect(where) as outside:
            outside.execute("DELETE FROM embeddings WHERE track_id = ?", (gone,))
        outside.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgresql"])
def test_check_catalog_menu_reports_problems_without_blocking(engine, request, qtbot, tmp_path, monkeypatch) -> None:
    from app.services.bootstrap import build_services
    from app.services.settings import Settings
    from app.ui.main_window import MainWindow

    where = request.getfixturevalue("pg_url") if engine == "postgresql" else str(tmp_path / "lib.db")
    _broken_catalog(where)
    monkeypatch.setenv("SOUNDALIKE_CONFIG_DIR", str(tmp_path / "config"))
    settings = Settings()
    settings.set("setting/library_catalog", where)
    settings.set("setting/demo_added", True)
    s = build_services(settings)
    window = MainWindow(s)
    qtbot.addWidget(window)
    try:
        action = next(a for a in window.findChildren(QAction) if a.text() == "Chec&k catalog…")
        with qtbot.waitSignal(s.library.catalog_checked, timeout=30_000) as checked:
            action.trigger()
            assert window.statusBar().currentMessage() == "Checking the catalog in the background…"
        assert checked.args[0].problems == ("1 tracks marked indexed have no vectors (they are never found; the next index run of their folders embeds them again)",)
        box = next(b for b in window.findChildren(QMessageBox) if b.windowTitle() == "Catalog check")
        assert box.isVisible() and not box.isModal()
        assert "1 problem in the catalog" in box.text() and "have no vectors" in box.text()
    finally:
        s.shutdown()
