"""The real main window driven with pytest-qt over fake services."""

from __future__ import annotations

from pathlib import Path

import pytest

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QAction, QDropEvent

from app.ui.main_window import MainWindow
from app.ui.results_view import BAR_FLOOR
from tests.app.services.fakes import write_tone


def drop_file(widget, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)


def load(qtbot, window: MainWindow, tmp_path: Path, seconds: float = 60.0) -> Path:
    clip = write_tone(tmp_path / "temp_track.wav", seconds, loud_from=30.0)
    with qtbot.waitSignal(window.s.search.results_changed, timeout=10000):
        drop_file(window, clip)
    return clip


def titles(window: MainWindow) -> list[str]:
    return [r.track.title for r in window.results.results_model.results]


def test_drop_a_file_shows_results_and_preselects_the_busy_region(qtbot, window, tmp_path) -> None:
    clip = load(qtbot, window, tmp_path)
    assert window.results.results_model.rowCount() == 4
    query = window.s.search.query
    assert query is not None and query.path == str(clip)
    start, end = query.region
    assert 15.0 <= end - start <= 30.0 and start >= 25.0  # the loud half starts at 30 s
    assert "temp_track.wav" in window.query_pane.title.text()
    assert window.query_pane.waveform.duration_s == pytest.approx(60.0, abs=0.1)


def test_sliders_reorder_results_as_the_weights_demand(qtbot, window, tmp_path) -> None:
    load(qtbot, window, tmp_path)
    pane = window.query_pane
    pane.set_slider_values((100, 0, 0, 0))
    assert titles(window)[0] == "genre_twin"
    pane.sliders["genre"].setValue(0)
    pane.sliders["tempo"].setValue(100)  # synchronous re-rank: no wait needed
    assert titles(window)[0] == "tempo_twin"
    pane.set_slider_values((0, 100, 100, 0))
    assert titles(window)[0] == "mood_twin"
    bars = window.results.results_model.index(0, 6).data(Qt.ItemDataRole.ToolTipRole)
    assert "Mood: 0.90" in bars
    model = window.results.results_model
    moods = [model.bar_fraction(row, "mood") for row in range(model.rowCount())]
    mood_values = [r.dimensions["mood"] for r in model.results]
    assert moods == pytest.approx([BAR_FLOOR + (1 - BAR_FLOOR) * v for v in mood_values])  # absolute


def test_keyboard_audition(qtbot, window, tmp_path) -> None:
    load(qtbot, window, tmp_path)
    pb = window.s.playback
    window.results.setFocus()
    first = window.results.current_result()
    with qtbot.waitSignal(pb.source_changed, timeout=5000):
        qtbot.keyClick(window.results, Qt.Key.Key_Return)
    assert pb.path == first.track.path and pb.position_s == pytest.approx(first.offset_s, abs=0.01)
    assert pb.is_playing
    qtbot.keyClick(window.results, Qt.Key.Key_Space)
    assert not pb.is_playing
    qtbot.keyClick(window.results, Qt.Key.Key_Space)
    assert pb.is_playing
    with qtbot.waitSignal(pb.source_changed, timeout=5000):
        qtbot.keyClick(window.results, Qt.Key.Key_Down)  # next result, keeps playing
    second = window.results.current_result()
    assert second is not first and pb.path == second.track.path and pb.is_playing
    qtbot.keyClick(window.results, Qt.Key.Key_Right)
    assert pb.position_s == pytest.approx(second.offset_s + 5.0, abs=0.01)
    qtbot.keyClick(window.results, Qt.Key.Key_Left)
    qtbot.keyClick(window.results, Qt.Key.Key_Right)
    qtbot.keyClick(window.results, Qt.Key.Key_Right)  # 10 s into the match
    query = window.s.search.query
    with qtbot.waitSignal(pb.source_changed, timeout=5000):
        qtbot.keyClick(window.results, Qt.Key.Key_A)  # A/B: to the query, same relative position
    assert pb.role == "query" and pb.position_s == pytest.approx(query.region[0] + 10.0, abs=0.05)
    with qtbot.waitSignal(pb.source_changed, timeout=5000):
        qtbot.keyClick(window.results, Qt.Key.Key_A)
    assert pb.role == "result" and pb.position_s == pytest.approx(second.offset_s + 10.0, abs=0.05)


def test_position_bar_seeks(qtbot, window, tmp_path) -> None:
    load(qtbot, window, tmp_path)
    pb = window.s.playback
    with qtbot.waitSignal(pb.source_changed, timeout=5000):
        window.play_selected()
    bar = window.audition.position
    qtbot.waitUntil(lambda: bar.maximum() > 0, timeout=2000)
    bar.setSliderPosition(300)  # 30 s, as a drag would
    bar.sliderReleased.emit()
    assert pb.position_s == pytest.approx(30.0, abs=0.01)
    bar.triggerAction(bar.SliderAction.SliderPageStepSub)  # a click on the groove
    assert pb.position_s == pytest.approx(30.0 - bar.pageStep() / 10, abs=0.01)


def test_keys_typed_into_a_filter_stay_in_the_field(qtbot, window, tmp_path) -> None:
    load(qtbot, window, tmp_path)
    spin = window.query_pane.bpm_min
    window.activateWindow()
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)  # Ctrl+F: to the filters
    qtbot.waitUntil(spin.hasFocus, timeout=1000)
    qtbot.keyClicks(spin, "95")
    assert spin.value() == 95
    qtbot.keyClick(spin, Qt.Key.Key_Down)
    assert spin.value() == 94 and window.results.current_row() == 0  # the list did not move
    assert not window.s.playback.path  # Space/A did not start playback either
    slider = window.query_pane.sliders["genre"]
    assert slider.focusPolicy() == Qt.FocusPolicy.TabFocus  # a click does not steal the arrows


def test_only_local_audio_file_drops_are_accepted(qtbot, window, tmp_path) -> None:
    from PySide6.QtGui import QDragEnterEvent

    def enter(urls: list[QUrl]) -> bool:
        mime = QMimeData()
        mime.setUrls(urls)
        event = QDragEnterEvent(QPointF(5, 5).toPoint(), Qt.DropAction.CopyAction, mime,
                                Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
        event.ignore()
        window.dragEnterEvent(event)
        return event.isAccepted()

    clip = write_tone(tmp_path / "x.wav", 2.0)
    assert enter([QUrl("https://example.com/a.wav"), QUrl.fromLocalFile(str(clip))])  # an editor may send several
    assert not enter([QUrl("https://example.com/a.wav")])
    assert not enter([QUrl.fromLocalFile(str(tmp_path / "missing.wav"))])


def test_double_click_plays_from_the_match(qtbot, window, tmp_path) -> None:
    load(qtbot, window, tmp_path)
    view = window.results
    index = view.results_model.index(2, 1)
    rect = view.visualRect(index)
    with qtbot.waitSignal(window.s.playback.source_changed, timeout=5000):
        qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
        qtbot.mouseDClick(view.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    result = view.results_model.results[2]
    assert window.s.playback.path == result.track.path
    assert window.s.playback.position_s == pytest.approx(result.offset_s, abs=0.01)
    assert "from 0:" in window.audition.label.text() and "best match" in window.audition.label.text()


def test_an_unreadable_query_is_one_sentence_in_the_status_bar(qtbot, window, tmp_path) -> None:
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00garbage")
    with qtbot.waitSignal(window.s.errors.error_reported, timeout=5000) as blocker:
        drop_file(window, bad)
    message = blocker.args[0]
    assert message.startswith("Loading the query failed") and "\n" not in message
    assert "Traceback" not in message
    assert window.statusBar().currentMessage() == message


def test_level_matched_audition_is_on_by_default_and_a_menu_turns_it_off(window) -> None:
    action = next(a for a in window.findChildren(QAction) if a.text() == "&Level-matched audition")
    assert action.isChecked() and window.s.playback.player.level_match
    action.trigger()
    assert not window.s.playback.player.level_match
    assert window.s.settings.get("setting/level_match") is False


def test_diversity_is_on_by_default_and_reaches_the_search_filters(window) -> None:
    pane = window.query_pane
    assert pane.diverse.isChecked() and window.s.search.filters.max_per_group == 2
    pane.per_group.setValue(3)
    assert window.s.search.filters.max_per_group == 3
    pane.diverse.setChecked(False)
    assert window.s.search.filters.max_per_group is None


def test_file_dialogs_start_in_the_music_folder_then_where_the_user_last_was(window, tmp_path) -> None:
    music, elsewhere = tmp_path / "music", tmp_path / "elsewhere"
    music.mkdir()
    elsewhere.mkdir()
    window.s.settings.set("setting/library_folders", [str(music)])
    assert window.dialogs.start() == str(music)
    window.load_query(str(write_tone(elsewhere / "clip.wav", 5.0)))
    assert window.dialogs.start() == str(elsewhere)
