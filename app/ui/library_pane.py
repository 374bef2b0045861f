"""Library: folders, track count, indexing progress (rate, ETA), cancel, rescan, failures, and
the catalog's integrity check (its report in a window that does not block the app)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.types import CatalogReport, Progress, display_path
from app.services.library_service import LibraryService
from app.ui.dialog_folders import DialogFolders
from app.ui.formatting import fmt_eta


def progress_text(p: Progress) -> str:
    """"63 % · indexed 120/190 files, 214x real time · 4 min left" (the core's message carries the rate)."""
    parts = [f"{100 * p.fraction:.0f} %"] if p.fraction is not None else []
    if p.message:
        parts.append(p.message)
    elif p.rate:
        parts.append(f"{p.rate:.1f} {p.unit}/s")
    if p.eta_s is not None:
        parts.append(fmt_eta(p.eta_s))
    return " · ".join(parts) or "indexing…"


class LibraryPane(QWidget):
    def __init__(self, library: LibraryService, dialogs: DialogFolders, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.library = library
        self.dialogs = dialogs
        self.failed: list[tuple[str, str]] = []
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<b>LIBRARY</b>"))
        self.folders = QListWidget()
        self.folders.setMaximumHeight(90)
        layout.addWidget(self.folders)
        row = QHBoxLayout()
        add = QPushButton("Add music folder…")
        add.clicked.connect(self.choose_folder)
        self.remove = QPushButton("Remove")
        self.remove.clicked.connect(self._remove_selected)
        self.rescan = QPushButton("Rescan")
        self.rescan.clicked.connect(library.rescan)
        for w in (add, self.remove, self.rescan):
            row.addWidget(w)
        layout.addLayout(row)
        self.count = QLabel("0 tracks")
        layout.addWidget(self.count)
        prog = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(12)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(library.cancel)
        prog.addWidget(self.progress, 1)
        prog.addWidget(self.cancel)
        layout.addLayout(prog)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.failed_button = QPushButton("")
        self.failed_button.setFlat(True)
        self.failed_button.setStyleSheet("text-align: left; color: #b04020;")
        self.failed_button.clicked.connect(self.show_failed)
        layout.addWidget(self.failed_button)
        layout.addStretch(1)
        library.folders_changed.connect(self._set_folders)
        library.progress_changed.connect(self._on_progress)
        library.indexing_changed.connect(self._on_indexing)
        library.summary_changed.connect(self._on_summary)
        library.indexing_finished.connect(self.status.setText)
        library.catalog_checked.connect(self._on_checked)
        self._set_folders(library.folders())
        self._on_indexing(library.is_indexing)
        self._on_summary(0, [])

    def choose_folder(self) -> None:
        path = self.dialogs.open_folder(self, "Add music folder")
        if path:
            self.library.add_folder(path)

    def _remove_selected(self) -> None:
        item = self.folders.currentItem()
        if item is not None:
            self.library.remove_folder(item.text())

    def _set_folders(self, folders: list[str]) -> None:
        self.folders.clear()
        self.folders.addItems(folders)

    def _on_progress(self, p: Progress) -> None:
        if p.total:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * (p.fraction or 0)))
        else:
            self.progress.setRange(0, 0)
        self.status.setText(progress_text(p))

    def _on_indexing(self, running: bool) -> None:
        self.progress.setVisible(running)
        self.cancel.setVisible(running)
        if running:
            self.progress.setRange(0, 0)
            self.status.setText("indexing: looking for new or changed files…")

    def _on_summary(self, count: int, failed: list) -> None:
        self.failed = list(failed)
        self.count.setText(f"{count:,} tracks".replace(",", " "))
        self.failed_button.setVisible(bool(failed))
        n = len(failed)
        self.failed_button.setText(f"{n} file{'s' if n != 1 else ''} unreadable or missing — show them")

    def show_failed(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle("Files that could not be read or are missing")
        table = QTableWidget(len(self.failed), 2)
        table.setHorizontalHeaderLabels(["File", "Reason"])
        for row, (path, reason) in enumerate(self.failed):
            table.setItem(row, 0, QTableWidgetItem(display_path(path)))
            table.setItem(row, 1, QTableWidgetItem(reason))
        table.horizontalHeader().setStretchLastSection(True)
        table.resizeColumnToContents(0)
        box = QVBoxLayout(dialog)
        box.addWidget(table)
        dialog.resize(800, 400)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()

    def _on_checked(self, report: CatalogReport) -> None:
        if report.ok:
            icon, text = QMessageBox.Icon.Information, report.lines()[0]
        else:
            n = len(report.problems)
            icon = QMessageBox.Icon.Warning
            text = (f"{n} problem{'s' if n != 1 else ''} in the catalog {report.catalog}:\n\n"
                    + "\n".join(f"• {p}" for p in report.problems)
                    + "\n\nSearching goes on with what can be read. To start afresh, index your "
                    "folders into a new catalog (Library ▸ Catalog…); keep a copy of this one.")  # fmt: skip
        box = QMessageBox(icon, "Catalog check", text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.NonModal)  # a message box blocks its parent by default
        box.show()
