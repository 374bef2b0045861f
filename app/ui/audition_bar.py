"""What is playing, a position bar with seeking, play/pause, and the output device."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from app.services.playback_service import PlaybackService
from app.ui.formatting import fmt_time

SCALE = 10  # slider units per second


class AuditionBar(QWidget):
    def __init__(self, playback: PlaybackService, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.playback = playback
        self._caption = ""
        self._playing = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        layout = QHBoxLayout()
        self.play_button = QPushButton("▶")
        self.play_button.setFixedWidth(36)
        self.play_button.setToolTip("Play/pause (Space)")
        self.play_button.clicked.connect(playback.toggle)
        self.label = QLabel("Nothing playing — Enter plays the selected result from its best match")
        self.label.setMinimumWidth(160)
        self.position = QSlider(Qt.Orientation.Horizontal)
        self.position.setObjectName("position")
        self.position.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # arrows belong to the results list
        self.position.sliderReleased.connect(lambda: playback.seek(self.position.value() / SCALE))
        self.position.actionTriggered.connect(self._on_action)  # clicks on the groove seek too
        self.time = QLabel("0:00 / 0:00")
        self.device = QComboBox()
        self.device.setToolTip("Output device")
        self.device.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.device.setMinimumWidth(140)
        self.device.currentIndexChanged.connect(self._on_device)
        for w, stretch in ((self.play_button, 0), (self.position, 1), (self.time, 0), (self.device, 0)):
            layout.addWidget(w, stretch)
        outer.addWidget(self.label)  # its own row: a long title never squeezes the position bar
        outer.addLayout(layout)
        playback.position_changed.connect(self._on_position)
        playback.state_changed.connect(self._on_state)
        playback.availability_changed.connect(self._on_availability)
        self.fill_devices()
        self._on_availability(playback.available, playback.reason)

    def fill_devices(self) -> None:
        self.device.blockSignals(True)
        self.device.clear()
        self.device.addItem("System default", None)
        for index, name in self.playback.output_devices():
            self.device.addItem(name, index)
        self.device.blockSignals(False)

    def select_device_name(self, name: str) -> None:
        i = self.device.findText(name)
        if i > 0:
            self.device.setCurrentIndex(i)

    def _on_device(self, _row: int) -> None:
        self.playback.set_output_device(self.device.currentData())

    def set_caption(self, text: str) -> None:
        """What is loaded ("1. Night Drive — from 1:05 (best match)"); prefixed with its state."""
        self._caption = text
        self._show_caption()

    def _on_state(self, playing: bool) -> None:
        self._playing = playing
        self.play_button.setText("❚❚" if playing else "▶")
        self._show_caption()

    def _show_caption(self) -> None:
        if not self.playback.available:
            self.label.setText("Playback unavailable (see status bar)")
            self.label.setToolTip(self.playback.reason)
        elif self._caption:
            self.label.setText(("▶ playing " if self._playing else "paused · ") + self._caption)

    def _on_action(self, action: int) -> None:
        if action != QSlider.SliderAction.SliderMove.value:  # drags seek on release
            self.playback.seek(self.position.sliderPosition() / SCALE)

    def _on_position(self, position_s: float, duration_s: float) -> None:
        if not self.position.isSliderDown():
            self.position.setRange(0, int(duration_s * SCALE))
            self.position.setValue(int(position_s * SCALE))
        self.time.setText(f"{fmt_time(position_s)} / {fmt_time(duration_s)}")

    def _on_availability(self, _available: bool, _reason: str) -> None:
        self._show_caption()
