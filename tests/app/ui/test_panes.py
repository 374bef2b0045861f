"""Library pane, map, trainer dialog, filters, export, drag-out, persistence, no-model banner."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPointF, Qt
from PySide6.QtWidgets import QFileDialog

from app.services.app_services import Services
from app.services.backends import TrainOutcome, UnavailableSearch
from app.ui.dialog_folders import DialogFolders
from app.ui.main_window import MainWindow
from app.ui.trainer_dialog import TrainerDialog
from tests.app.services.harness import make_services
from tests.app.ui.test_main_window import load, titles


def test_cancel_indexing_from_the_library_pane(qtbot, tmp_path: Path, qapp) -> None:
    s = make_services(tmp_path, index_steps=10_000)
    try:
        w = MainWindow(s)
        qtbot.addWidget(w)
        w.show()
        pane = w.library_pane
        with qtbot.waitSignal(s.library.progress_changed, timeout=5000):
            s.library.add_folder(str(tmp_path / "lib"))
        qtbot.waitUntil(lambda: "150x" in pane.status.text(), timeout=5000)
        assert pane.cancel.isVisible() and pane.progress.isVisible()
        assert "left" in pane.status.text()  # ETA shown
        with qtbot.waitSignal(s.library.indexing_changed, timeout=5000):
            qtbot.mouseClick(pane.cancel, Qt.MouseButton.LeftButton)
        assert not pane.cancel.isVisible()
        assert pane.status.text().startswith("Indexing cancelled")
        assert pane.folders.count() == 1
        assert "unreadable or missing — show them" in pane.failed_button.text()
    finally:
        s.shutdown()


def test_filters_limit_results(qtbot, window: MainWindow, tmp_path: Path) -> None:
    load(qtbot, window, tmp_path)
    pane = window.query_pane
    pane.bpm_min.setValue(95)
    pane.bpm_max.setValue(105)
    assert titles(window) == ["tempo_twin"]  # the fake library's BPMs are 90, 100, 110, 120
    pane.bpm_min.setValue(0)  # "any"
    pane.bpm_max.setValue(0)
    assert len(titles(window)) == 4


def test_results_drag_out_as_file_urls_and_export(qtbot, window: MainWindow, tmp_path: Path, monkeypatch) -> None:
    load(qtbot, window, tmp_path)
    model = window.results.results_model
    mime = model.mimeData([model.index(0, 1), model.index(0, 2)])
    urls = mime.urls()
    assert len(urls) == 1 and urls[0].isLocalFile()
    assert urls[0].toLocalFile() == model.results[0].track.path
    for name in ("out.csv", "out.m3u"):
        target = tmp_path / name
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, t=target, **k: (str(t), ""))
        qtbot.keyClick(window, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
        assert target.exists()
    lines = (tmp_path / "out.csv").read_text().splitlines()
    assert lines[0].startswith("rank,path,title") and len(lines) == 5
    m3u = (tmp_path / "out.m3u").read_text().splitlines()
    assert m3u[0] == "#EXTM3U" and m3u[2] == model.results[0].track.path


def test_map_click_plays_and_double_click_queries(qtbot, window: MainWindow, tmp_path: Path) -> None:
    load(qtbot, window, tmp_path)
    with qtbot.waitSignal(window.s.library.map_ready, timeout=10000):
        window.tabs.setCurrentWidget(window.map_view)
    canvas = window.map_view.canvas
    assert canvas.data is not None and len(canvas.data.tracks) == 4
    assert canvas.data.query_xy is not None  # the query is projected with the library
    assert set(canvas.highlighted) == {r.track.path for r in window.s.search.results}
    x, y = canvas._points()[2]
    target = canvas.data.tracks[2].path
    with qtbot.waitSignal(window.s.playback.source_changed, timeout=5000):
        qtbot.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, y).toPoint())
    assert window.s.playback.path == target
    with qtbot.waitSignal(window.s.search.query_loaded, timeout=10000):
        qtbot.mouseDClick(canvas, Qt.MouseButton.LeftButton, pos=QPointF(x, y).toPoint())
    assert window.s.search.query.path == target


def test_trainer_dialog_runs_a_tiny_training_and_switches_model(qtbot, services: Services, tmp_path: Path) -> None:
    dialog = TrainerDialog(services.training, DialogFolders(services.settings, services.library.folders))
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.source.setText(str(tmp_path / "lib"))
    with qtbot.waitSignal(services.training.summary_ready, timeout=5000):
        dialog._summarize()
    assert "rock 3" in dialog.found.text()
    dialog.epochs.setValue(4)
    with qtbot.waitSignal(services.training.training_finished, timeout=10000):
        qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)
    assert sorted(dialog.plot.history) == [0, 1, 2, 3, 4]  # the starting model, then each epoch
    assert dialog.table.item(0, 1).text() == "0.500" and dialog.table.item(0, 2).text() == "0.660"
    assert dialog.use.isEnabled() and dialog.status.text().startswith("Done. Saved as")
    with qtbot.waitSignal(services.training.active_model_changed, timeout=1000) as blocker:
        qtbot.mouseClick(dialog.use, Qt.MouseButton.LeftButton)
    assert Path(blocker.args[0]).parent == tmp_path / "models"
    note = "no fast-search (ONNX) copy of m.pt (boom); searches with it start slower"
    dialog._on_finished(TrainOutcome("m.pt", {}, {}, {"notes": [note]}))  # the card's notes are shown
    assert dialog.status.text().splitlines()[-1] == note


def test_no_trained_model_says_so(qtbot, services: Services, tmp_path: Path, monkeypatch) -> None:
    from app.core import model_registry

    monkeypatch.delenv("SOUNDALIKE_MODEL", raising=False)
    monkeypatch.setattr(model_registry, "SHIPPED_MODELS_DIR", tmp_path / "no-shipped-models")
    monkeypatch.setattr(model_registry, "DEFAULT_MODEL", tmp_path / "no-shipped-models" / "default.pt")
    services.search.backend = UnavailableSearch("No trained model is installed, so search is unavailable.")
    w = MainWindow(services)
    qtbot.addWidget(w)
    w.show()
    assert w.banner.isVisible() and "No trained model" in w.banner.text()
    assert w.model_box.currentText() == "no trained model installed"


def test_slider_values_and_geometry_persist(qtbot, tmp_path: Path, qapp) -> None:
    s = make_services(tmp_path)
    try:
        w = MainWindow(s)
        qtbot.addWidget(w)
        w.show()
        w.query_pane.set_slider_values((10, 20, 30, 90))
        w.resize(w.minimumSizeHint().width(), 520)  # fits the offscreen screen (800x600)
        w.close()
        again = MainWindow(s)
        qtbot.addWidget(again)
        assert again.query_pane.slider_values() == (10, 20, 30, 90)
        assert again.height() == 520
    finally:
        s.shutdown()


def test_cancelling_training_keeps_the_best_epoch(qtbot, services: Services, tmp_path: Path) -> None:
    services.training._factory().epoch_s = 0.05
    dialog = TrainerDialog(services.training, DialogFolders(services.settings, services.library.folders))
    qtbot.addWidget(dialog)
    dialog.source.setText(str(tmp_path / "lib"))
    dialog.epochs.setValue(200)
    with qtbot.waitSignal(services.training.progress_changed, timeout=5000):
        qtbot.mouseClick(dialog.start, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: len(dialog.plot.history) >= 2, timeout=5000)
    with qtbot.waitSignal(services.training.training_cancelled, timeout=5000) as blocker:
        qtbot.mouseClick(dialog.cancel, Qt.MouseButton.LeftButton)
    kept = blocker.args[0]
    assert kept is not None and Path(kept.model_path).exists()
    assert "best epoch so far was kept" in dialog.status.text()
    assert dialog.use.isEnabled() and dialog.start.isEnabled()
    assert float(dialog.table.item(0, 2).text()) > 0.5


def test_an_interrupted_training_run_can_be_resumed(qtbot, services: Services, tmp_path: Path) -> None:
    import json

    workdir = tmp_path / "models" / "finetuned-lib.training"
    workdir.mkdir(parents=True)
    (workdir / "last.pt").write_bytes(b"checkpoint")
    (workdir / "request.json").write_text(json.dumps(
        {"source": str(tmp_path / "lib"), "mode": "csv", "epochs": 3, "device": "cpu", "steps_per_epoch": 0}))
    dialog = TrainerDialog(services.training, DialogFolders(services.settings, services.library.folders))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.resume.isVisible() and "lib" in dialog.resume.text()
    requests = []
    backend = services.training._factory()
    original = backend.fit

    def recording_fit(request):
        requests.append(request)
        return (yield from original(request))

    backend.fit = recording_fit
    with qtbot.waitSignal(services.training.training_finished, timeout=10000) as blocker:
        qtbot.mouseClick(dialog.resume, Qt.MouseButton.LeftButton)
    assert requests[0].resume is True and requests[0].mode == "csv"
    assert Path(blocker.args[0].model_path) == tmp_path / "models" / "finetuned-lib.pt"
    assert services.training.interrupted_runs() == []  # finished: nothing left to resume


def test_tag_controls_follow_the_model_and_reach_the_search(qtbot, window: MainWindow, tmp_path: Path) -> None:
    """The fake model has no auto-tags: the controls are off and say why. A backend with tags
    turns them on, and the words and the instrumental box travel in the search filters."""
    pane = window.query_pane
    assert not pane.tag_words.isEnabled() and not pane.instrumental.isEnabled()
    assert "no auto-tags" in pane.tag_words.placeholderText()
    search = window.s.search
    backend = search.backend
    seen = []

    class Tagged:
        available, reason, tags_available = True, "", True

        def __getattr__(self, name):
            return getattr(backend, name)

        def search(self, query, weights, k, filters):
            seen.append((query, filters))
            return []

    search.set_backend(Tagged())
    assert pane.tag_words.isEnabled() and pane.instrumental.isEnabled()
    pane.tag_words.setText("calm piano")
    pane.tag_words.editingFinished.emit()
    assert seen and seen[-1][0] is None and seen[-1][1].tags == "calm piano"  # tags alone, no clip
    pane.instrumental.setChecked(True)
    assert seen[-1][1].instrumental
