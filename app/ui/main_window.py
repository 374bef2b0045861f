"""The main window: composes the panes and wires them to the services (no logic of its own
beyond routing keys and menu actions)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app import APP_NAME
from app.core.types import SearchResult, SearchWeights
from app.services.app_services import Services
from app.services.playback_service import ab_target
from app.ui.audition_bar import AuditionBar
from app.ui.dialog_folders import DialogFolders
from app.ui.formatting import fmt_time
from app.ui.library_pane import LibraryPane
from app.ui.map_view import MapView
from app.ui.query_pane import AUDIO_FILTER, QueryPane, local_audio_path
from app.ui.results_view import ResultsView, reveal_target
from app.ui.timeline_pane import TimelinePane
from app.ui.trainer_dialog import TrainerDialog

SEEK_STEP_S = 5.0
BANNER_STYLE = "background: #fff3cd; color: #5c4400; padding: 6px; border: 1px solid #e0c060;"


class MainWindow(QMainWindow):
    def __init__(self, services: Services) -> None:
        super().__init__()
        self.s = services
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self.trainer: TrainerDialog | None = None
        self._compute_actions: dict[str, QAction] = {}
        self._build()
        self._wire()
        self._shortcuts()
        self._restore()
        self.refresh_model_state()

    # -- composition -----------------------------------------------------------------------
    def _build(self) -> None:
        s = self.s
        self.dialogs = DialogFolders(s.settings, s.library.folders)
        self.query_pane = QueryPane(s.search, self.dialogs)
        self.library_pane = LibraryPane(s.library, self.dialogs)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        self.timeline_pane = TimelinePane(s.timeline, self.query_pane, s.playback, self.dialogs, self.results_selection)
        self.timeline_pane.hide()  # until a timeline is opened
        s.timeline.cues_loaded.connect(lambda *_: self.timeline_pane.show())
        left_layout.addWidget(self.timeline_pane)
        left_layout.addWidget(self.query_pane)
        left_layout.addWidget(self.library_pane)
        scroll = QScrollArea()
        scroll.setWidget(left)
        scroll.setWidgetResizable(True)
        scroll.setMinimumWidth(400)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        right = QWidget()
        right_layout = QVBoxLayout(right)
        self.banner = QLabel("")
        self.banner.setWordWrap(True)
        self.banner.setStyleSheet(BANNER_STYLE)
        self.banner.hide()
        right_layout.addWidget(self.banner)
        self.results = ResultsView()
        self.results.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.map_view = MapView(s.library)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.results, "Results")
        self.tabs.addTab(self.map_view, "Library map")
        right_layout.addWidget(self.tabs, 1)
        self.audition = AuditionBar(s.playback)
        right_layout.addWidget(self.audition)
        hint_row = QHBoxLayout()
        hint = QLabel("Drag a row out to drop the file in your editor · Space play/pause · ↑↓ next · A query/result · ←→ seek")
        hint.setStyleSheet("color: gray;")
        export = QPushButton("Export…")
        export.setToolTip("Save the results as CSV or M3U (Ctrl+E)")
        export.clicked.connect(self.export_results)
        hint_row.addWidget(hint, 1)
        hint_row.addWidget(export)
        right_layout.addLayout(hint_row)

        self.splitter = QSplitter()
        self.splitter.addWidget(scroll)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(1, 1)
        self.setCentralWidget(self.splitter)

        bar = self.addToolBar("Library")
        bar.setObjectName("library_toolbar")
        bar.setMovable(False)
        self.library_status = QLabel("")
        bar.addWidget(self.library_status)
        self.toolbar_cancel = QPushButton("Cancel")
        self.toolbar_cancel.setToolTip("Stop indexing; Rescan resumes where it stopped")
        self.toolbar_cancel.clicked.connect(self.s.library.cancel)
        self.toolbar_cancel_action = bar.addWidget(self.toolbar_cancel)
        self.toolbar_cancel_action.setVisible(False)
        spacer = QWidget()
        spacer.setSizePolicy(spacer.sizePolicy().Policy.Expanding, spacer.sizePolicy().Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(QLabel("Model "))
        self.model_box = QComboBox()
        self.model_box.setMinimumWidth(180)
        bar.addWidget(self.model_box)
        self._build_menus()

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "&Open query…", self.open_query, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open &timeline…", self.timeline_pane.open_timeline, "Ctrl+T")
        self._action(file_menu, "&Add music folder…", self.library_pane.choose_folder)
        self._action(file_menu, "&Export results…", self.export_results, "Ctrl+E")
        file_menu.addSeparator()
        self._action(file_menu, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        lib = self.menuBar().addMenu("&Library")
        self._action(lib, "&Rescan", self.s.library.rescan)
        self._action(lib, "&Cancel indexing", self.s.library.cancel)
        self._action(lib, "Show library &map", lambda: self.tabs.setCurrentWidget(self.map_view))
        self._action(lib, "C&atalog…", self.choose_catalog)
        self._action(lib, "Chec&k catalog…", self.s.library.check_catalog)
        tools = self.menuBar().addMenu("&Tools")
        self._action(tools, "&Train a model on your music…", self.open_trainer)
        self._action(tools, "&Filter results", self.query_pane.focus_filters, "Ctrl+F")
        level = self._action(tools, "&Level-matched audition", self._set_level_match)
        level.setCheckable(True)
        level.setChecked(bool(self.s.settings.get("setting/level_match")))
        compute = tools.addMenu("&Compute on")
        current = self.s.settings.get("setting/compute_device")
        for name in ("auto", "cpu", "cuda"):
            action = self._action(compute, name, lambda _c=False, n=name: self._set_compute(n))
            action.setCheckable(True)
            action.setChecked(name == current)
            self._compute_actions[name] = action

    def choose_catalog(self) -> None:
        """Where the library lives: a file, or a studio's shared PostgreSQL catalog (its URL)."""
        current = str(self.s.settings.get("setting/library_catalog"))
        text, ok = QInputDialog.getText(
            self, "Library catalog",
            "Empty: this computer's library. A file path, or a studio's shared catalog:\n"
            "postgresql://USER:PASSWORD@HOST/DATABASE (needs soundalike[studio]).\n"
            "Used from the next start.",
            text=current,
        )  # fmt: skip
        if ok and text.strip() != current:
            self.s.settings.set("setting/library_catalog", text.strip())
            self.statusBar().showMessage("The library catalog changes at the next start.", 15000)

    def _set_level_match(self, on: bool) -> None:
        self.s.settings.set("setting/level_match", on)
        self.s.playback.set_level_match(on)

    def _action(self, menu: QMenu, text: str, slot, shortcut=None) -> QAction:  # noqa: ANN001
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _wire(self) -> None:
        s = self.s
        s.errors.error_reported.connect(lambda msg: self.statusBar().showMessage(msg, 15000))
        s.errors.notice_reported.connect(lambda msg: self.statusBar().showMessage(msg, 8000))
        s.search.results_changed.connect(self._on_results)
        s.search.query_loaded.connect(lambda _info: self.map_view.canvas.set_highlight(
            [r.track.path for r in s.search.results], s.search.query.path if s.search.query else ""))
        self.query_pane.open_requested.connect(self.open_query)
        self.query_pane.play_region_requested.connect(self.play_query_region)
        self.query_pane.ab_requested.connect(self.toggle_ab)
        self.results.doubleClicked.connect(lambda _i: self.play_selected())
        self.results.selectionModel().currentRowChanged.connect(lambda *_a: self._prefetch())
        self.results.customContextMenuRequested.connect(self._context_menu)
        self.map_view.canvas.track_clicked.connect(lambda path: s.playback.play(path, 0.0, "result"))
        self.map_view.canvas.track_double_clicked.connect(s.search.load_query)
        self.tabs.currentChanged.connect(self._on_tab)
        s.library.summary_changed.connect(lambda *_a: self._update_library_status())
        s.library.progress_changed.connect(lambda *_a: self._update_library_status())
        s.library.indexing_changed.connect(lambda *_a: self._update_library_status())
        s.library.indexing_finished.connect(lambda _m: self._after_indexing())
        s.playback.position_changed.connect(self._on_position)
        s.playback.availability_changed.connect(lambda ok, why: None if ok else self.statusBar().showMessage(why))
        s.training.active_model_changed.connect(lambda _p: self.refresh_model_state())
        self.model_box.activated.connect(self._on_model_chosen)

    def _shortcuts(self) -> None:
        for key, slot in (
            ("Space", self.toggle_play), ("Return", self.play_selected), ("Enter", self.play_selected),
            ("Up", lambda: self.step(-1)), ("Down", lambda: self.step(1)), ("A", self.toggle_ab),
            ("Left", lambda: self.s.playback.seek_relative(-SEEK_STEP_S)),
            ("Right", lambda: self.s.playback.seek_relative(SEEK_STEP_S)),
        ):
            shortcut = QShortcut(QKeySequence(key), self)
            shortcut.setContext(Qt.ShortcutContext.WindowShortcut)
            shortcut.activated.connect(slot)

    # -- persistence -----------------------------------------------------------------------
    def _restore(self) -> None:
        st = self.s.settings
        geometry = st.get("persist/geometry")
        if geometry:
            self.restoreGeometry(geometry)
        else:
            self.resize(1360, 840)
        if st.get("persist/splitter"):
            self.splitter.restoreState(st.get("persist/splitter"))
        try:
            weights = SearchWeights.parse(st.get("persist/weights"))
        except ValueError:
            weights = SearchWeights(0.5, 0.5, 0.5, 0.5)
        self.query_pane.set_slider_values(tuple(int(round(v * 100)) for v in weights.as_tuple()))
        self.audition.select_device_name(st.get("setting/audio_device"))

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        st = self.s.settings
        st.set("persist/geometry", bytes(self.saveGeometry().data()))
        st.set("persist/splitter", bytes(self.splitter.saveState().data()))
        st.set("persist/weights", self.query_pane.weights().to_text())
        st.set("setting/audio_device", self.audition.device.currentText() if self.audition.device.currentIndex() > 0 else "")
        st.sync()
        super().closeEvent(event)

    # -- model -----------------------------------------------------------------------------
    def refresh_model_state(self) -> None:
        self.model_box.clear()
        active = self.s.training.active_model()
        entries = self.s.training.models()
        if active is not None and all(e.path != active.path for e in entries):
            entries.append(active)  # chosen by $SOUNDALIKE_MODEL
        for entry in entries:
            self.model_box.addItem(entry.label, str(entry.path))
            if active is not None and entry.path == active.path:
                self.model_box.setCurrentIndex(self.model_box.count() - 1)
        if self.model_box.count() == 0:
            self.model_box.addItem("no trained model installed", "")
        available = self.s.search.available
        self.banner.setVisible(not available)
        self.banner.setText(self.s.search.unavailable_reason if not available else "")
        self.results.placeholder = (
            ResultsView.placeholder if available else "Search is unavailable until a trained model is installed"
        )
        self.results.viewport().update()
        if not available and not self.s.library.is_indexing:
            self.library_pane.status.setText("Not indexed: indexing needs a trained model.")

    def _set_compute(self, name: str) -> None:
        for key, action in self._compute_actions.items():
            action.setChecked(key == name)
        self.s.settings.set("setting/compute_device", name)
        self.s.training.reload_model()

    def _on_model_chosen(self, _row: int) -> None:
        path = self.model_box.currentData()
        if path:
            self.s.training.use_model(path)

    # -- actions ---------------------------------------------------------------------------
    def open_query(self) -> None:
        path = self.dialogs.open_file(self, "Open a clip to match", AUDIO_FILTER)
        if path:
            self.load_query(path)

    def results_selection(self) -> SearchResult | None:
        return self.results.current_result()

    def load_query(self, path: str) -> None:
        self.dialogs.remember(path)
        self.s.search.load_query(path)

    def open_trainer(self) -> None:
        if self.trainer is None:
            self.trainer = TrainerDialog(self.s.training, self.dialogs, self)
        self.trainer.show()
        self.trainer.raise_()

    def export_results(self) -> None:
        if not self.s.search.results:
            self.statusBar().showMessage("Nothing to export yet: drop a clip to get results.", 6000)
            return
        path = self.dialogs.save_file(self, "Export results", "soundalike-results.csv",
                                      "CSV (*.csv);;M3U playlist (*.m3u)")
        if path:
            try:
                written = self.s.search.export(path)
            except OSError as exc:
                self.s.errors.report(f"Could not write {path}: {exc.strerror or exc}; choose another folder.")
                return
            self.statusBar().showMessage(f"Exported {len(self.s.search.results)} results to {written}", 8000)

    def play_selected(self) -> None:
        result = self.results.current_result()
        if result is not None:
            self.s.playback.play(result.track.path, result.offset_s, "result")
            self._caption(result)

    def toggle_play(self) -> None:
        if not self.s.playback.path:
            self.play_selected()
        else:
            self.s.playback.toggle()

    def step(self, delta: int) -> None:
        keep_playing = self.s.playback.is_playing
        self.results.move(delta)
        if keep_playing:
            self.play_selected()

    def play_query_region(self) -> None:
        query = self.s.search.query
        if query is not None:
            self.s.playback.play(query.path, query.region[0], "query", end_s=query.region[1])
            self.audition.set_caption(f"query region {fmt_time(query.region[0])}–{fmt_time(query.region[1])}")

    def toggle_ab(self) -> None:
        query, result, pb = self.s.search.query, self.results.current_result(), self.s.playback
        if query is None or result is None:
            return
        role = pb.role if pb.path else "result"
        side, position = ab_target(role, pb.position_s if pb.path else result.offset_s, query.region, result.offset_s)
        if side == "query":
            pb.play(query.path, position, "query", end_s=query.region[1])
            self.audition.set_caption(f"A: query at {fmt_time(position)}")
        else:
            pb.play(result.track.path, position, "result")
            self._caption(result, f"B: result at {fmt_time(position)}")

    def _caption(self, result: SearchResult, text: str = "") -> None:
        rank = self.results.current_row() + 1
        text = text or f"from {fmt_time(result.offset_s)} (best match)"
        self.audition.set_caption(f"{rank}. {result.track.display_title} — {text}")

    def _context_menu(self, pos: QPoint) -> None:
        result = self.results.current_result()
        if result is None:
            return
        menu = QMenu(self)
        menu.addAction("Play from match", self.play_selected)
        menu.addAction("Use as query", lambda: self.load_query(result.track.path))
        menu.addAction("Copy path", lambda: QGuiApplication.clipboard().setText(result.track.path))
        menu.addAction("Reveal in folder", lambda: QDesktopServices.openUrl(reveal_target(result.track.path)))
        menu.exec(self.results.viewport().mapToGlobal(pos))

    # -- updates ---------------------------------------------------------------------------
    def _on_results(self, results: list[SearchResult]) -> None:
        self.results.set_results(results)
        query = self.s.search.query
        self.map_view.canvas.set_highlight([r.track.path for r in results], query.path if query else "")
        if self.map_view.isVisible() and self.s.search.prepared_query is not self.map_view._query:
            self.map_view.refresh(self.s.search.prepared_query)  # a new query: show where it lands
        self._prefetch()

    def _prefetch(self) -> None:
        self.s.playback.prefetch(self.results.upcoming_paths())

    def _on_position(self, position_s: float, _duration_s: float) -> None:
        query = self.s.search.query
        on_query = self.s.playback.role == "query" and query is not None and self.s.playback.path == query.path
        self.query_pane.waveform.set_playhead(position_s if on_query else None)

    def _on_tab(self, index: int) -> None:
        if self.tabs.widget(index) is self.map_view:
            query = self.s.search.prepared_query
            if self.map_view.canvas.data is None or query is not self.map_view._query:
                self.map_view.refresh(query)

    def _after_indexing(self) -> None:
        self.s.search.rerank()
        if self.map_view.isVisible():
            self.map_view.refresh(self.s.search.prepared_query)

    def _update_library_status(self) -> None:
        count = self.library_pane.count.text()
        status = self.library_pane.status.text() if self.s.library.is_indexing else ""
        self.library_status.setText(f"  Library: {count}" + (f" · {status}" if status else ""))
        self.toolbar_cancel_action.setVisible(self.s.library.is_indexing)

    # -- drops anywhere on the window ------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if event.mimeData().hasUrls() and local_audio_path(event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        path = local_audio_path(event.mimeData().urls())
        if path:
            event.acceptProposedAction()
            self.load_query(path)
