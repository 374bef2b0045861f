"""Left pane: the query (waveform + region), the four sliders, presets, filters, mix & match."""

from __future__ import annotations

import html
from pathlib import Path
from typing import NamedTuple

from PySide6.QtCore import QEvent, Qt, QUrl, Signal
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.core.types import DIMENSIONS, SearchFilters, SearchWeights, display_path
from app.services.search_service import QUERY_SUFFIXES, QueryInfo, SearchService
from app.ui.dialog_folders import DialogFolders
from app.ui.waveform_widget import WaveformWidget

DEFAULT_PER_GROUP = 2  # results per album or artist when "At most" is on (the default)
AUDIO_FILTER = f"Audio and video files ({' '.join(f'*{s}' for s in sorted(QUERY_SUFFIXES))});;All files (*)"
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "Overall feel": (50, 50, 50, 50),
    "Same tempo": (20, 20, 20, 100),
    "Same mood && instruments": (10, 100, 90, 20),
}


class FilterValues(NamedTuple):
    """The filter widgets' state (spin box values: 0 is "any"; durations in minutes)."""

    bpm_min: float
    bpm_max: float
    minutes_min: float
    minutes_max: float
    tags: str
    instrumental: bool
    diverse: bool
    per_group: int


def local_audio_path(urls: list[QUrl]) -> str | None:
    """First local file among dropped URLs (file managers and editing apps send file URLs)."""
    for url in urls:
        if url.isLocalFile() and Path(url.toLocalFile()).is_file():
            return url.toLocalFile()
    return None


ARROWS = {Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_Left, Qt.Key.Key_Right}
TEXT_KEYS = ARROWS | {Qt.Key.Key_Space, Qt.Key.Key_A, Qt.Key.Key_Home, Qt.Key.Key_End}


def _claims(event: QEvent, keys: set[Qt.Key]) -> bool:
    """True for a ShortcutOverride the widget takes (the window's audition keys then don't fire)."""
    if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
        if event.modifiers() == Qt.KeyboardModifier.NoModifier and Qt.Key(event.key()) in keys:
            event.accept()
            return True
    return False


class FilterSpinBox(QDoubleSpinBox):
    """While typing a bound, arrows/Space/A edit the field instead of driving playback."""

    def event(self, event: QEvent) -> bool:
        return True if _claims(event, TEXT_KEYS) else super().event(event)


class WeightSlider(QSlider):
    """Clicking or dragging does not take focus (↑/↓/←/→ keep auditioning results); a slider
    reached with Tab does take the arrows."""

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Horizontal)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)

    def event(self, event: QEvent) -> bool:
        return True if _claims(event, ARROWS) else super().event(event)


class ReferenceButton(QPushButton):
    """'from query' or a clip name; click chooses a clip, a dropped file sets it."""

    chosen = Signal(str)

    def __init__(self, dialogs: DialogFolders) -> None:
        super().__init__("this query")
        self.dialogs = dialogs
        self.setAcceptDrops(True)
        self.setToolTip("Take this dimension from another clip: click or drop a file")
        self.clicked.connect(self._choose)

    def _choose(self) -> None:
        path = self.dialogs.open_file(self, "Reference clip", AUDIO_FILTER)
        if path:
            self.chosen.emit(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if local_audio_path(event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = local_audio_path(event.mimeData().urls())
        if path:
            event.acceptProposedAction()
            self.chosen.emit(path)


class QueryPane(QWidget):
    open_requested = Signal()
    play_region_requested = Signal()
    ab_requested = Signal()

    def __init__(self, search: SearchService, dialogs: DialogFolders, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.search = search
        self.dialogs = dialogs
        layout = QVBoxLayout(self)
        head = QHBoxLayout()
        self.title = QLabel("<b>QUERY</b>  no clip yet")
        self.title.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        open_button = QPushButton("Open…")
        open_button.setToolTip("Open a clip to match (Ctrl+O)")
        open_button.clicked.connect(self.open_requested)
        head.addWidget(self.title, 1)
        head.addWidget(open_button)
        layout.addLayout(head)
        self.waveform = WaveformWidget()
        self.waveform.region_changed.connect(self.search.set_region)
        layout.addWidget(self.waveform)
        buttons = QHBoxLayout()
        self.play_button = QPushButton("▶ Play region")
        self.play_button.clicked.connect(self.play_region_requested)
        self.ab_button = QPushButton("A/B")
        self.ab_button.setToolTip("Switch between the query and the result at the same relative position (A)")
        self.ab_button.clicked.connect(self.ab_requested)
        self.busy = QLabel("")
        for w in (self.play_button, self.ab_button):
            w.setEnabled(False)
            buttons.addWidget(w)
        buttons.addWidget(self.busy, 1)
        layout.addLayout(buttons)
        layout.addWidget(self._build_sliders())
        layout.addWidget(self._build_filters())
        layout.addWidget(self._build_mix())
        layout.addStretch(1)
        search.query_loading.connect(self._on_loading)
        search.query_loaded.connect(self._on_loaded)
        search.busy_changed.connect(lambda busy: self.busy.setText("embedding…" if busy else ""))
        search.reference_changed.connect(self._on_reference)
        self._emit_filters()  # the defaults (diversity on) hold from the first search

    # -- building ------------------------------------------------------------------------
    def _build_sliders(self) -> QGroupBox:
        box = QGroupBox("What matters")
        grid = QGridLayout(box)
        self.sliders: dict[str, QSlider] = {}
        self._values: dict[str, QLabel] = {}
        for row, name in enumerate(DIMENSIONS):
            slider = WeightSlider()
            slider.setRange(0, 100)
            slider.setObjectName(f"slider_{name}")
            slider.setAccessibleName(f"{name} weight")
            value = QLabel("50")
            value.setMinimumWidth(28)
            value.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            slider.valueChanged.connect(lambda v, lab=value: lab.setText(str(v)))
            slider.valueChanged.connect(self._emit_weights)
            grid.addWidget(QLabel(name.capitalize()), row, 0)
            grid.addWidget(slider, row, 1)
            grid.addWidget(value, row, 2)
            self.sliders[name], self._values[name] = slider, value
        presets = QHBoxLayout()
        presets.addWidget(QLabel("Presets:"))
        for label, values in PRESETS.items():
            button = QToolButton()
            button.setText(label)
            button.clicked.connect(lambda _c=False, v=values: self.set_slider_values(v))
            presets.addWidget(button)
        presets.addStretch(1)
        grid.addLayout(presets, len(DIMENSIONS), 0, 1, 3)
        return box

    def _build_filters(self) -> QGroupBox:
        box = QGroupBox("Filters")
        form = QFormLayout(box)
        self.bpm_min, self.bpm_max = self._spin(0, 300, " BPM"), self._spin(0, 300, " BPM")
        self.dur_min, self.dur_max = self._spin(0, 60, " min"), self._spin(0, 60, " min")
        for row_label, lo, hi in (("Tempo", self.bpm_min, self.bpm_max), ("Duration", self.dur_min, self.dur_max)):
            row = QHBoxLayout()
            row.addWidget(lo)
            row.addWidget(QLabel("to"))
            row.addWidget(hi)
            form.addRow(row_label, row)
        self.tag_words = QLineEdit()
        self.tag_words.setPlaceholderText("e.g. calm piano")
        self.tag_words.setClearButtonEnabled(True)
        self.tag_words.setToolTip("Rank by the tracks' auto-tags (genre, mood, instrument, vocals); "
                                  "with a query clip, the score is the mean of both")
        self.tag_words.editingFinished.connect(self._emit_filters)
        self.instrumental = QCheckBox("Instrumental only")
        self.instrumental.setToolTip("Only tracks whose auto-tags say instrumental (no vocals)")
        self.instrumental.toggled.connect(self._emit_filters)
        form.addRow("Tags", self.tag_words)
        form.addRow("", self.instrumental)
        # Diversity, on by default: one album must not fill the list (app.core.diversity).
        self.diverse = QCheckBox("At most")
        self.diverse.setChecked(True)
        self.per_group = QSpinBox()
        self.per_group.setRange(1, 20)
        self.per_group.setValue(DEFAULT_PER_GROUP)
        self.per_group.setSuffix(" per album / artist")
        self.per_group.setToolTip("Album and artist from the tags; untagged files count per folder")
        self.diverse.toggled.connect(self._emit_filters)
        self.per_group.valueChanged.connect(self._emit_filters)
        diverse = QHBoxLayout()
        diverse.addWidget(self.diverse)
        diverse.addWidget(self.per_group)
        form.addRow("Variety", diverse)
        self.search.backend_changed.connect(self._update_tag_controls)
        self._update_tag_controls()
        return box

    def _update_tag_controls(self) -> None:
        """Tag words and the instrumental filter need a model with auto-tags."""
        available = self.search.tags_available
        for widget in (self.tag_words, self.instrumental):
            widget.setEnabled(available)
        if not available:
            self.tag_words.setPlaceholderText("the active model has no auto-tags")

    def _spin(self, lo: float, hi: float, suffix: str) -> QDoubleSpinBox:
        spin = FilterSpinBox()
        spin.setRange(lo, hi)
        spin.setDecimals(0 if "BPM" in suffix else 1)
        spin.setSuffix(suffix)
        spin.setSpecialValueText("any")  # the minimum (0) means "no bound"
        spin.valueChanged.connect(self._emit_filters)
        return spin

    def _build_mix(self) -> QGroupBox:
        box = QGroupBox("Mix && match (optional)")
        grid = QGridLayout(box)
        self.references: dict[str, ReferenceButton] = {}
        for row, name in enumerate(DIMENSIONS):
            button = ReferenceButton(self.dialogs)
            button.chosen.connect(lambda path, d=name: self.search.set_reference(d, path))
            reset = QToolButton()
            reset.setText("×")
            reset.setToolTip(f"Take {name} from the query again")
            reset.clicked.connect(lambda _c=False, d=name: self.search.set_reference(d, None))
            grid.addWidget(QLabel(f"{name.capitalize()} from"), row, 0)
            grid.addWidget(button, row, 1)
            grid.addWidget(reset, row, 2)
            self.references[name] = button
        return box

    # -- state ---------------------------------------------------------------------------
    def slider_values(self) -> tuple[int, ...]:
        return tuple(self.sliders[name].value() for name in DIMENSIONS)

    def set_slider_values(self, values: tuple[int, ...]) -> None:
        for name, value in zip(DIMENSIONS, values, strict=False):
            self.sliders[name].blockSignals(True)
            self.sliders[name].setValue(int(value))
            self._values[name].setText(str(int(value)))
            self.sliders[name].blockSignals(False)
        self._emit_weights()

    def weights(self) -> SearchWeights:
        return SearchWeights(*(v / 100 for v in self.slider_values()))

    def _emit_weights(self) -> None:
        self.search.set_weights(self.weights())

    def filters(self) -> SearchFilters:
        def bound(spin: QDoubleSpinBox, scale: float = 1.0) -> float | None:
            return spin.value() * scale if spin.value() > spin.minimum() else None

        return SearchFilters(bound(self.bpm_min), bound(self.bpm_max), bound(self.dur_min, 60), bound(self.dur_max, 60),
                             instrumental=self.instrumental.isChecked(), tags=self.tag_words.text().strip(),
                             max_per_group=self.per_group.value() if self.diverse.isChecked() else None)

    def _emit_filters(self) -> None:
        self.search.set_filters(self.filters())

    def filter_values(self) -> FilterValues:
        """What the filter widgets show, for the timeline mode's per-cue settings."""
        return FilterValues(self.bpm_min.value(), self.bpm_max.value(), self.dur_min.value(), self.dur_max.value(),
                            self.tag_words.text(), self.instrumental.isChecked(), self.diverse.isChecked(),
                            self.per_group.value())

    def set_filter_values(self, values: FilterValues) -> None:
        """Show ``values`` and search with them once (not once per widget)."""
        spins = (self.bpm_min, self.bpm_max, self.dur_min, self.dur_max)
        widgets = (*spins, self.tag_words, self.instrumental, self.diverse, self.per_group)
        for widget in widgets:
            widget.blockSignals(True)
        for spin, value in zip(spins, values[:4], strict=True):
            spin.setValue(value)
        self.tag_words.setText(values.tags)
        self.instrumental.setChecked(values.instrumental)
        self.diverse.setChecked(values.diverse)
        self.per_group.setValue(values.per_group)
        for widget in widgets:
            widget.blockSignals(False)
        self._emit_filters()

    def focus_filters(self) -> None:
        self.bpm_min.setFocus()
        self.bpm_min.selectAll()

    def _on_loading(self, path: str) -> None:
        self.title.setText(f"<b>QUERY</b>  {Path(path).name}")
        self.busy.setText("loading…")

    def _on_loaded(self, info: QueryInfo) -> None:
        self.title.setText(f"<b>QUERY</b>  {html.escape(display_path(Path(info.path).name))}")
        self.title.setToolTip(display_path(info.path))
        self.waveform.set_waveform(info.peaks_lo, info.peaks_hi, info.duration_s, info.region)
        self.play_button.setEnabled(True)
        self.ab_button.setEnabled(True)

    def _on_reference(self, dimension: str, path: str) -> None:
        button = self.references[dimension]
        button.setText(Path(path).name if path else "this query")
        button.setToolTip(path or "Take this dimension from another clip: click or drop a file")
