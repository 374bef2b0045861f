"""Library folders, background indexing (io pool), failures, the library map (encode pool), and
the periodic sync with a shared catalog (catalog pool)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.types import Progress
from app.services.backends import LibraryBackend, MapData, SyncOutcome
from app.services.settings import Settings
from app.services.workers import ErrorSink, GeneratorWorker, Pools

log = logging.getLogger(__name__)


class LibraryService(QObject):
    progress_changed = Signal(object)  # Progress
    indexing_changed = Signal(bool)
    summary_changed = Signal(int, list)  # track count, [(path, reason)] of failed files
    indexing_finished = Signal(str)  # one sentence ("Indexed 120 tracks; 3 unreadable or missing.")
    map_ready = Signal(object)  # MapData
    folders_changed = Signal(list)
    catalog_checked = Signal(object)  # app.core.types.CatalogReport

    def __init__(
        self,
        backend_factory: Callable[[], LibraryBackend | None],
        settings: Settings,
        pools: Pools,
        errors: ErrorSink,
    ) -> None:
        super().__init__()
        self._factory = backend_factory
        self._backend: LibraryBackend | None = None
        self._settings = settings
        self._pools = pools
        self._errors = errors
        self._worker: GeneratorWorker | None = None
        self._map_request = 0
        self._closed = False
        self.last_progress: Progress | None = None
        self._sync_timer: QTimer | None = None
        self._syncing = False
        self._sync_failing = False  # the last sync failed: said once, not every interval

    @property
    def backend(self) -> LibraryBackend | None:
        if self._closed:
            return None
        if self._backend is None:
            self._backend = self._factory()
        return self._backend

    def close(self) -> None:
        """Release the backend's resources (the catalog) once no worker uses it."""
        self.stop_sync()
        close = getattr(self._backend, "close", None)
        if close is not None:
            close()
        self._backend = None
        self._closed = True  # signals still queued from finished workers are ignored

    def reset_backend(self) -> None:
        """Forget the backend (active model changed); the next use builds a new one."""
        self.cancel()
        self._backend = None

    # -- folders ---------------------------------------------------------------------------
    def folders(self) -> list[str]:
        return list(self._settings.get("setting/library_folders"))

    def add_folder(self, path: str) -> None:
        folders = self.folders()
        if path not in folders:
            folders.append(path)
            self._settings.set("setting/library_folders", folders)
            self.folders_changed.emit(folders)
        self.rescan()

    def remove_folder(self, path: str) -> None:
        folders = [f for f in self.folders() if f != path]
        self._settings.set("setting/library_folders", folders)
        self.folders_changed.emit(folders)
        self.rescan()

    # -- indexing --------------------------------------------------------------------------
    @property
    def is_indexing(self) -> bool:
        return self._worker is not None

    def rescan(self) -> None:
        """Index new/changed files of every folder (incremental; resumes an interrupted run)."""
        backend = self.backend
        if backend is None:
            return
        if self._worker is not None:
            self._worker.abort()  # the new run covers the old one's folders too
        worker = GeneratorWorker(backend.index, self.folders(), task="indexing the library")
        worker.signals.progress_changed.connect(self._on_progress)
        worker.signals.finished.connect(lambda _r, w=worker: self._on_done(w, "finished"))
        worker.signals.aborted.connect(lambda w=worker: self._on_done(w, "cancelled"))
        worker.signals.errored.connect(lambda msg, w=worker: self._on_done(w, msg))
        self._worker = worker
        self.indexing_changed.emit(True)
        self._pools.start("io", worker)

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.abort()

    def _on_progress(self, progress: Progress) -> None:
        self.last_progress = progress
        self.progress_changed.emit(progress)

    def _on_done(self, worker: GeneratorWorker, outcome: str) -> None:
        if worker is not self._worker:
            return
        self._worker = None
        self.indexing_changed.emit(False)
        count, failed = self.refresh()
        if outcome == "finished":
            tail = f"; {len(failed)} unreadable or missing" if failed else ""
            self.indexing_finished.emit(f"Library up to date: {count} tracks{tail}.")
        elif outcome == "cancelled":
            self.indexing_finished.emit(f"Indexing cancelled: {count} tracks so far; Rescan resumes it.")
        else:
            self._errors.report(outcome)

    def refresh(self) -> tuple[int, list[tuple[str, str]]]:
        backend = self.backend
        if backend is None:
            return 0, []
        count = backend.track_count()
        failed = list(backend.failed_tracks())
        self.summary_changed.emit(count, failed)
        return count, failed

    def check_catalog(self) -> None:
        """Check the catalog for damage on the catalog pool, on a connection of its own (a
        big SQLite file takes minutes; searching and indexing go on). The report comes with
        ``catalog_checked``; quitting stops the check."""
        backend = self.backend
        if backend is None:
            return
        worker = GeneratorWorker(lambda: backend.check_catalog(lambda: worker.abort_requested),
                                 task="checking the catalog")  # fmt: skip
        worker.signals.finished.connect(self.catalog_checked.emit)
        worker.signals.errored.connect(self._errors.report)
        self._pools.start("catalog", worker)
        self._errors.notice("Checking the catalog in the background…")

    # -- sync with a shared catalog -------------------------------------------------------
    def sync_every(self, seconds: float) -> None:
        """Sync with the catalog every ``seconds`` (a studio's, which other machines write).

        A sync that finds nothing costs one counter read (milliseconds), so it can run often.
        New tracks join the engine at once but the results on screen stay as they are (a list
        must not reorder under the user's hand): they appear at the next search or re-rank,
        and a notice says how many arrived.
        """
        if self._sync_timer is None:
            self._sync_timer = QTimer(self)
            self._sync_timer.timeout.connect(self.sync)
        self._sync_timer.start(max(1, round(seconds * 1000)))

    def stop_sync(self) -> None:
        if self._sync_timer is not None:
            self._sync_timer.stop()

    def sync(self) -> None:
        """One sync on the catalog pool (skipped while the previous one runs)."""
        backend = self.backend
        if backend is None or self._syncing:
            return
        self._syncing = True
        worker = GeneratorWorker(backend.sync, task="syncing with the shared catalog")
        worker.signals.finished.connect(self._on_synced)
        worker.signals.errored.connect(self._on_sync_failed)
        worker.signals.aborted.connect(lambda: setattr(self, "_syncing", False))
        self._pools.start("catalog", worker)

    def _on_synced(self, outcome: SyncOutcome | None) -> None:
        self._syncing = False
        if self._closed:
            return
        if self._sync_failing:
            self._sync_failing = False
            self._errors.notice("The shared catalog is reachable again.")
        if outcome is None:
            return
        self.summary_changed.emit(outcome.count, outcome.failed)
        if outcome.added:
            count = f"{outcome.added:,}".replace(",", " ")
            tracks = "track" if outcome.added == 1 else "tracks"
            self._errors.notice(f"{count} new {tracks} from the shared catalog; they join your next search.")

    def _on_sync_failed(self, message: str) -> None:
        self._syncing = False
        if not self._sync_failing and not self._closed:
            self._sync_failing = True
            self._errors.report(f"{message} (retrying in the background)")
        else:
            log.info("sync still failing: %s", message)

    # -- map -------------------------------------------------------------------------------
    def request_map(self, dimension: str = "all", query: object = None) -> None:
        backend = self.backend
        if backend is None:
            return
        self._map_request += 1
        request = self._map_request
        worker = GeneratorWorker(backend.track_map, dimension, query, task="drawing the library map")
        worker.signals.finished.connect(lambda data, r=request: self._on_map(r, data))
        worker.signals.errored.connect(self._errors.report)
        self._pools.start("encode", worker)

    def _on_map(self, request: int, data: MapData) -> None:
        if request == self._map_request:
            self.map_ready.emit(data)
