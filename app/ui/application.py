"""Start the Qt application: build the services, show the main window, shut down cleanly."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from app import APP_NAME, __version__
from app.services.app_services import Services
from app.ui.main_window import MainWindow


def run_gui(
    args: argparse.Namespace | None, build_services: Callable[[], Services], clip: str | None = None
) -> int:
    """``build_services`` comes from ``app.__main__`` (app.services.bootstrap): the UI never
    imports the heavy core itself (import-linter's "ui never touches heavy deps"). ``clip``
    (``soundalike FILE``) becomes the query once the window shows."""
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName(APP_NAME)
    app.setApplicationVersion(__version__)
    app.setOrganizationName(APP_NAME)
    services = build_services()
    window = MainWindow(services)
    window.show()
    if clip:
        window.load_query(clip)
    services.library.refresh()
    services.warm_up()
    if services.search.available and services.library.folders():
        services.library.rescan()  # incremental: picks up changes and resumes an interrupted run
    quit_after_ms = os.environ.get("SOUNDALIKE_QUIT_AFTER_MS")  # smoke tests: start, then quit cleanly
    if quit_after_ms:
        QTimer.singleShot(int(quit_after_ms), window.close)
    try:
        return app.exec()
    finally:
        services.shutdown()
