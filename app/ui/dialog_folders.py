"""Where file dialogs open: the folder the user last picked something in, else the first music
folder, else home. One object shared by every dialog of the window, so "last folder" means
the last one anywhere (persisted as ``persist/last_dialog_dir``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QWidget

from app.services.settings import Settings


class DialogFolders:
    def __init__(self, settings: Settings, music_folders: Callable[[], list[str]]) -> None:
        self._settings = settings
        self._music_folders = music_folders

    def start(self) -> str:
        last = self._settings.get("persist/last_dialog_dir")
        if last and Path(last).is_dir():
            return str(last)
        music = [f for f in self._music_folders() if Path(f).is_dir()]
        return music[0] if music else str(Path.home())

    def remember(self, path: str) -> None:
        folder = path if Path(path).is_dir() else str(Path(path).parent)
        self._settings.set("persist/last_dialog_dir", folder)

    def open_file(self, parent: QWidget, title: str, filters: str) -> str:
        path, _ = QFileDialog.getOpenFileName(parent, title, self.start(), filters)
        if path:
            self.remember(path)
        return path

    def open_folder(self, parent: QWidget, title: str) -> str:
        path = QFileDialog.getExistingDirectory(parent, title, self.start())
        if path:
            self.remember(path)
        return path

    def save_file(self, parent: QWidget, title: str, name: str, filters: str) -> str:
        path, _ = QFileDialog.getSaveFileName(parent, title, str(Path(self.start()) / name), filters)
        if path:
            self.remember(path)
        return path
