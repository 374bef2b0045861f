"""Fine-tune a model on the user's music: source → what was found → epochs/device → live plot → use or discard."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.types import DIMENSIONS
from app.services.backends import TrainOutcome, TrainUpdate
from app.services.training_service import TrainingService
from app.ui.dialog_folders import DialogFolders
from app.ui.formatting import fmt_eta
from app.ui.results_view import BAR_COLOURS

SERIES = (*DIMENSIONS, "track")  # "track": same-track retrieval, the only score label-free runs have
COLOURS = (*BAR_COLOURS, "#7a7f8c")
MODES = (
    ("Folder with tags (genre, mood, BPM)", "tags"),
    ("Folder names (Jazz/…, mood=calm/…, bpm=120/…)", "folders"),
    ("CSV labels file", "csv"),
    ("No labels (label-free)", "label-free"),
)


class AccuracyPlot(QWidget):
    """Validation accuracy per dimension by epoch (0–1)."""

    def __init__(self) -> None:
        super().__init__()
        self.setMinimumHeight(170)
        self.history: dict[int, dict[str, float]] = {}  # epoch -> accuracy per dimension
        self.epochs = 1

    def add(self, epoch: int, epochs: int, accuracy: dict[str, float]) -> None:
        self.epochs = max(1, epochs)
        self.history[epoch] = accuracy
        self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        p.fillRect(self.rect(), self.palette().base())
        left, top, right, bottom = 36, 14, self.width() - 110, self.height() - 20
        p.setPen(self.palette().mid().color())
        for frac in (0.0, 0.25, 0.5, 0.75, 1.0):
            y = bottom - frac * (bottom - top)
            p.drawLine(QPointF(left, y), QPointF(right, y))
            p.drawText(QRectF(0, y - 8, left - 4, 16), Qt.AlignmentFlag.AlignRight, f"{frac:.2f}")
        step = max(1, self.epochs // 10)
        for e in range(0, self.epochs + 1, step):
            x = left + e / self.epochs * (right - left)
            p.drawText(QRectF(x - 15, bottom + 2, 30, 14), Qt.AlignmentFlag.AlignCenter, str(e))
        p.drawText(QRectF(right + 20, bottom + 2, 90, 14), Qt.AlignmentFlag.AlignLeft, "epoch")
        p.drawText(QRectF(left, 0, right - left, 12), Qt.AlignmentFlag.AlignCenter, "validation accuracy")
        for i, (name, colour) in enumerate(zip(SERIES, COLOURS, strict=True)):
            p.setPen(QPen(QColor(colour), 2))
            pts = [
                QPointF(left + e / self.epochs * (right - left), bottom - acc[name] * (bottom - top))
                for e, acc in sorted(self.history.items()) if name in acc
            ]
            for a, b in zip(pts, pts[1:], strict=False):
                p.drawLine(a, b)
            for pt in pts:
                p.drawEllipse(pt, 2.5, 2.5)
            p.drawText(QPointF(right + 12, top + 14 + 18 * i), name)


class TrainerDialog(QDialog):
    def __init__(self, training: TrainingService, dialogs: DialogFolders, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train a model on your music")
        self.training = training
        self.dialogs = dialogs
        self.outcome: TrainOutcome | None = None
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.mode = QComboBox()
        for label, key in MODES:
            self.mode.addItem(label, key)
        self.source = QLineEdit()
        self.source.setPlaceholderText("choose a folder or a CSV file")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        src = QHBoxLayout()
        src.addWidget(self.source, 1)
        src.addWidget(browse)
        self.found = QLabel("")
        self.found.setWordWrap(True)
        self.epochs = QSpinBox()
        self.epochs.setRange(1, 200)
        self.epochs.setValue(10)
        self.device = QComboBox()
        self.device.addItems(["auto", "cpu", "cuda"])
        form.addRow("Labels from", self.mode)
        form.addRow("Source", src)
        form.addRow("Found", self.found)
        form.addRow("Epochs", self.epochs)
        form.addRow("Device", self.device)
        layout.addLayout(form)
        self.plot = AccuracyPlot()
        layout.addWidget(self.plot, 1)
        self.status = QLabel("Not started. The shipped model is never changed; a new model is saved beside it.")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        self.table = QTableWidget(len(SERIES), 3)
        self.table.setHorizontalHeaderLabels(["Dimension", "Before", "After"])
        self.table.verticalHeader().hide()
        self.table.setMaximumHeight(180)
        self.table.horizontalHeader().setStretchLastSection(True)
        for row, name in enumerate(SERIES):
            self.table.setItem(row, 0, QTableWidgetItem(name))
        layout.addWidget(self.table)
        buttons = QHBoxLayout()
        self.start = QPushButton("Start")
        self.start.clicked.connect(self._start)
        self.cancel = QPushButton("Cancel training")
        self.cancel.setEnabled(False)
        self.cancel.clicked.connect(training.cancel)
        self.use = QPushButton("Use this model")
        self.use.setEnabled(False)
        self.use.clicked.connect(self._use)
        self.discard = QPushButton("Discard")
        self.discard.setEnabled(False)
        self.discard.clicked.connect(self._discard)
        self.resume = QPushButton("")
        self.resume.clicked.connect(self._resume)
        self._refresh_resume()
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for w in (self.start, self.cancel, self.resume):
            buttons.addWidget(w)
        buttons.addStretch(1)
        for w in (self.use, self.discard, close):
            buttons.addWidget(w)
        layout.addLayout(buttons)
        self.resize(720, 640)
        training.summary_ready.connect(self._on_summary)
        training.progress_changed.connect(self._on_progress)
        training.training_finished.connect(self._on_finished)
        training.training_cancelled.connect(self._on_cancelled)
        training.training_failed.connect(self._on_failed)
        self.source.editingFinished.connect(self._summarize)
        self.mode.currentIndexChanged.connect(lambda _i: self._summarize())

    def _refresh_resume(self) -> None:
        runs = self.training.interrupted_runs()
        self.resume.setVisible(bool(runs) and not self.training.is_training)
        if runs:
            self.resume.setText(f"Resume interrupted run ({Path(runs[-1].source).name})")
            self.resume.setToolTip(f"Continue training on {runs[-1].source} from its last checkpoint")

    def _resume(self) -> None:
        runs = self.training.interrupted_runs()
        if not runs:
            return
        request = runs[-1]
        self.source.setText(request.source)
        self.mode.setCurrentIndex(max(0, self.mode.findData(request.mode)))
        self.epochs.setValue(request.epochs)
        self._set_running(True)
        self.status.setText("Resuming from the last checkpoint…")
        self.training.run(request)

    def _set_running(self, running: bool) -> None:
        self.plot.history = {} if running else self.plot.history
        self.start.setEnabled(not running)
        self.cancel.setEnabled(running)
        self.resume.setVisible(False)
        if running:
            self.use.setEnabled(False)
            self.discard.setEnabled(False)

    def _browse(self) -> None:
        if self.mode.currentData() == "csv":
            path = self.dialogs.open_file(self, "Labels file", "CSV (*.csv)")
        else:
            path = self.dialogs.open_folder(self, "Music folder")
        if path:
            self.source.setText(path)
            self._summarize()

    def _summarize(self) -> None:
        if self.source.text():
            self.found.setText("reading…")
            self.training.summarize(self.source.text(), self.mode.currentData())

    def _on_summary(self, counts: dict) -> None:
        total = counts.get("tracks", {}).get("all", 0)
        parts = [f"{total} tracks"] if "tracks" in counts else []
        for dim, tags in counts.items():
            if dim == "tracks":
                continue
            top = sorted(tags.items(), key=lambda kv: -kv[1])[:4]
            parts.append(f"{dim}: " + ", ".join(f"{t} {n}" for t, n in top) + ("…" if len(tags) > 4 else ""))
        if len(parts) <= 1:
            parts.append("no tags found (label-free training still works)")
        self.found.setText("; ".join(parts))

    def _start(self) -> None:
        if not self.source.text():
            self.status.setText("Choose a source folder or CSV first.")
            return
        self._set_running(True)
        self.status.setText("Starting…")
        self.training.start(self.source.text(), self.mode.currentData(), self.epochs.value(), self.device.currentText())

    def _on_progress(self, u: TrainUpdate) -> None:
        if u.val_accuracy:
            self.plot.add(u.epoch, u.epochs, u.val_accuracy)
        acc = "  ".join(f"{k} {u.val_accuracy[k]:.2f}" for k in SERIES if k in u.val_accuracy)
        loss = f" · loss {u.loss:.3f}" if u.loss is not None else ""
        self.status.setText(f"Epoch {u.epoch}/{u.epochs}{loss} · {acc} {fmt_eta(u.eta_s)} {u.message}".strip())

    def _on_finished(self, outcome: TrainOutcome) -> None:
        self.outcome = outcome
        if outcome.before:
            self.plot.add(0, self.plot.epochs, outcome.before)  # the starting model, at epoch 0
        for row, name in enumerate(SERIES):
            for col, values in ((1, outcome.before), (2, outcome.after)):
                value = values.get(name)
                self.table.setItem(row, col, QTableWidgetItem("–" if value is None else f"{value:.3f}"))
        self.status.setText("\n".join([f"Done. Saved as {outcome.model_path}", *_notes(outcome)]))
        self.start.setEnabled(True)
        self.cancel.setEnabled(False)
        self.use.setEnabled(True)
        self.discard.setEnabled(True)

    def _on_cancelled(self, kept: TrainOutcome | None) -> None:
        if kept is not None:
            self._on_finished(kept)
            self.status.setText("\n".join([f"Cancelled; the best epoch so far was kept as {kept.model_path}",
                                            *_notes(kept)]))  # fmt: skip
            return
        self.status.setText("Cancelled before the first epoch ended; nothing was saved.")
        self.start.setEnabled(True)
        self.cancel.setEnabled(False)

    def _on_failed(self, message: str) -> None:
        self.status.setText(message)
        self.start.setEnabled(True)
        self.cancel.setEnabled(False)

    def _use(self) -> None:
        if self.outcome is not None:
            self.training.use_model(self.outcome.model_path)
            self.status.setText("Now using the new model; the library is re-indexed in the background.")
            self.use.setEnabled(False)
            self.discard.setEnabled(False)

    def _discard(self) -> None:
        if self.outcome is not None:
            self.training.discard(self.outcome.model_path)
            self.status.setText("Discarded.")
            self.outcome = None
            self.use.setEnabled(False)
            self.discard.setEnabled(False)


def _notes(outcome: TrainOutcome) -> list[str]:
    """The card's notes on the saved model (e.g. no ONNX twin: searches with it start slower)."""
    notes = outcome.card.get("notes")
    return [str(note) for note in notes] if isinstance(notes, list) else []
