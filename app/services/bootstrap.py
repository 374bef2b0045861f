"""Build the real services over the core: catalog, encoder, search engine, indexer, trainer.

Heavy imports (torch via model.encoder, faiss via app.core.search) happen lazily on a
worker thread the first time a query is embedded or the library indexed, so the window
appears at once. Queries run on the model's ONNX export when it has a matching one
(model.onnx_encoder), so torch is imported only when the library is indexed. With no trained model installed, search and indexing say so instead of
silently using an untrained network.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from PySide6.QtCore import QTimer

from app.core import model_registry
from app.core.player import DecodeCache, Player
from app.core.types import CatalogReport, Progress, SearchFilters, SearchResult, SearchWeights
from app.services.app_services import Services
from app.services.backends import (
    MapData,
    SyncOutcome,
    TrainOutcome,
    TrainRequest,
    TrainUpdate,
    UnavailableSearch,
)
from app.services.library_service import LibraryService
from app.services.logging_setup import setup_logging
from app.services.playback_service import PlaybackService
from app.services.search_service import SearchService
from app.services.settings import Settings
from app.services.timeline_service import TimelineService
from app.services.training_service import TrainingService
from app.services.workers import ErrorSink, Pools, UserFacingError

log = logging.getLogger(__name__)

NO_MODEL = (
    "No trained model is installed, so search is unavailable (resources/models/default.pt is "
    "missing). Train one with Tools ▸ Train a model, or reinstall soundalike."
)


class CoreLibrary:
    """Catalog + lazily loaded encoder and ``app.core.library.Library`` (thread-safe loading)."""

    def __init__(self, model_path: Path | None, device: str, catalog: Any) -> None:
        self.catalog = catalog
        self.model_path = model_path
        self.device = device
        self._library: Any = None
        self._torch: Any = None  # the torch encoder (where there is no ONNX export, or a GPU)
        self._lock = threading.Lock()

    @property
    def library(self) -> Any:
        with self._lock:
            if self._library is None:
                if self.model_path is None:
                    raise UserFacingError(NO_MODEL)
                from app.core.library import Library
                from model.onnx_encoder import load_onnx_encoder

                # Queries on the ONNX export when there is a matching one (no torch import
                # before the first result); indexing loads torch when it runs. Its threads
                # sleep between runs (a query is a few runs, now and then; spinning took the
                # core that loads the library meanwhile).
                encoder = load_onnx_encoder(self.model_path, device=self.device, spin=False) or self._torch_encoder()
                self._library = Library(self.catalog, encoder)
            return self._library

    def _torch_encoder(self) -> Any:
        """The torch encoder, loaded once (the caller holds ``self._lock``)."""
        from model.encoder import Encoder

        if self._torch is None:
            self._torch = Encoder.load(self.model_path, device=self.device)
        return self._torch

    def close(self) -> None:
        """Close the catalog (checkpoints SQLite's WAL); called after the pools are joined."""
        self.catalog.close()

    # LibraryBackend
    def index(self, folders: Sequence[str]) -> Iterator[Progress]:
        from app.core.indexer import index_folders
        from app.core.lazy_encoder import LazyEncoder
        from model.onnx_encoder import gpu_expected, load_onnx_encoder

        if self.model_path is None:
            raise UserFacingError("No trained model is installed, so the library cannot be indexed yet.")
        library = self.library

        def load(_path: Path, bulk: bool) -> Any:
            # As `soundalike index`: the ONNX export on a CPU (one network thread, the other
            # cores decode), torch on a GPU or when there is no matching export.
            exported = load_onnx_encoder(self.model_path, threads=1, device=self.device, bulk=bulk)
            if exported is not None:
                return exported
            with self._lock:
                return self._torch_encoder()

        # The encoder is loaded only when a file must be embedded (not for an unchanged library).
        encoder = LazyEncoder(self.model_path, load, on_gpu=gpu_expected(self.device))
        try:
            yield from index_folders(self.catalog, folders, encoder)
        finally:
            # New vectors become searchable (also after a cancel). The engine is rebuilt here,
            # on the worker, so the GUI thread's next re-rank never loads vectors itself.
            library.reload()
            library.engine  # noqa: B018

    def sync(self) -> SyncOutcome | None:
        if self.model_path is None:
            return None
        added, dropped = self.library.reload()
        if not added and not dropped:
            return None
        return SyncOutcome(added, self.track_count(), self.failed_tracks())

    def check_catalog(self, stop: Callable[[], bool]) -> CatalogReport:
        from app.core.catalog_check import check_catalog

        return check_catalog(self.catalog.location, stop)

    def track_count(self) -> int:
        return self.catalog.track_count("ok")

    def failed_tracks(self) -> list[tuple[str, str]]:
        missing = [(t.path, "missing: not found at its path (kept until it is back)") for t in self.catalog.tracks("missing")]
        return self.catalog.errors() + missing

    def track_map(self, dimension: str, query: Any = None) -> MapData:
        from app.core.projection import project

        table = self.catalog.load_track_vectors(self.library.model_id)
        infos = self.catalog.get_tracks(table.ids.tolist())
        tracks = [infos[int(i)] for i in table.ids]
        vectors = table.vectors.astype(np.float32)
        extra = getattr(query, "vector", None)
        if extra is not None:
            vectors = np.vstack([vectors, np.asarray(extra, np.float32).reshape(1, -1)])
        proj = project(vectors, None if dimension == "all" else dimension)
        n = len(tracks)
        query_xy = tuple(float(v) for v in proj.xy[n]) if extra is not None else None
        return MapData(tracks, proj.xy[:n], proj.clusters[:n], proj.method, dimension, query_xy)

    # SearchBackend
    @property
    def available(self) -> bool:
        return self.model_path is not None

    @property
    def reason(self) -> str:
        return "" if self.available else NO_MODEL

    def prepare_query(self, path: str, region: tuple[float, float] | None) -> Any:
        start, end = region if region is not None else (None, None)
        query = self.library.prepare_query(path, start, end)
        self.library.engine  # noqa: B018 - load vectors/faiss here, not in the GUI thread's re-rank
        return query

    def combine(self, base: Any, references: dict[str, Any]) -> Any:
        from app.core.query import mix_queries

        return mix_queries(base, references)

    def search(self, query: Any, weights: SearchWeights, k: int, filters: SearchFilters) -> list[SearchResult]:
        return self.library.search(query, weights, k, filters)

    def prepare_moves(
        self, query: Any, weights: Callable[[], SearchWeights], k: int, filters: SearchFilters
    ) -> Iterator[int]:
        """After ``search`` with these arguments: slider moves prepared ahead (a generator job;
        ``weights()``: where the sliders are, which orders the work)."""
        return self.library.prepare_moves(query, weights, k, filters)

    @property
    def tags_available(self) -> bool:
        return self.library.has_tags


class CoreTraining:
    """``app.core.finetune`` (the workflow ``soundalike train`` runs too) behind the
    TrainingBackend protocol, fine-tuning the active model."""

    def __init__(self, init_model: Path | None) -> None:
        self.init_model = init_model
        self.keep_best_on_cancel = True  # False when the app quits: the run stays resumable

    @staticmethod
    def _labels(source: str, mode: str) -> Any:
        from app.core import finetune

        try:
            return finetune.gather_labels(source, mode)
        except finetune.FinetuneError as exc:
            raise UserFacingError(str(exc)) from None

    def summarize(self, source: str, mode: str) -> dict[str, dict[str, int]]:
        from app.core import finetune

        return finetune.summarize(self._labels(source, mode).labels)

    def fit(self, request: TrainRequest) -> Iterator[TrainUpdate]:
        from app.core import finetune

        found = self._labels(request.source, request.mode)
        config = finetune.configure(found, fine_tuning=self.init_model is not None, epochs=request.epochs,
                                    steps_per_epoch=request.steps_per_epoch, device=request.device)  # fmt: skip
        job = finetune.run(found, config, Path(request.output), init_model=self.init_model,
                           resume=request.resume, keep_best_on_cancel=self.keep_best_on_cancel)  # fmt: skip
        try:
            while True:
                try:
                    progress = next(job)
                except StopIteration as done:
                    result = done.value
                    break
                yield _update(progress, request.epochs)
        finally:
            job.close()  # a cancel (this generator closed) keeps the best epoch; no-op when done
        return TrainOutcome(str(result.output or request.output), dict(result.before), dict(result.after),
                            dict(result.card))  # fmt: skip


def _update(p: Any, epochs: int) -> TrainUpdate:
    """model.train.TrainProgress -> what the dialog shows (1-based epochs, whole-run ETA)."""
    if p.phase == "train":
        eta = None
        if p.rate and p.steps_per_epoch:
            eta = (p.eta_s or 0.0) + (epochs - p.epoch - 1) * p.steps_per_epoch / p.rate
        message = p.message or f"step {p.step}/{p.steps_per_epoch}"
        return TrainUpdate(p.epoch + 1, epochs, p.loss, {}, eta, message)
    if p.phase == "validate" and p.val_accuracy:
        return TrainUpdate(p.epoch, epochs, p.loss, dict(p.val_accuracy), None, p.message)
    # cache, validating, done: a message only (done's accuracy is the best epoch's, not a new point)
    return TrainUpdate(max(p.epoch, 0), epochs, None, {}, None, p.message)


def open_catalog(chosen: str) -> tuple[Any, str]:
    """``(catalog, problem)``: the catalog the settings name ('' = the per-user library.db)
    and "", or, when it cannot be opened (a studio's server down, a file gone), the per-user
    one and the reason: the app still starts."""
    from app.core.catalog import Catalog, CatalogError

    if not chosen:
        return Catalog.open(), ""
    try:
        return Catalog.open(chosen), ""
    except CatalogError as exc:
        return Catalog.open(), f"{exc}; using the local library (Library ▸ Catalog… to change)"


def build_services(settings: Settings | None = None) -> Services:
    log_file = setup_logging()
    settings = settings or Settings()
    pools, errors = Pools(), ErrorSink()
    first_launch = not settings.get("setting/library_folders") and not settings.get("setting/demo_added")
    if first_launch and model_registry.DEMO_LIBRARY.is_dir() and any(model_registry.DEMO_LIBRARY.iterdir()):
        settings.set("setting/library_folders", [str(model_registry.DEMO_LIBRARY)])
        settings.set("setting/demo_added", True)
    state: dict[str, CoreLibrary] = {}
    catalog, problem = open_catalog(settings.get("setting/library_catalog"))
    if problem:  # shown once the window listens (the first turn of the event loop)
        QTimer.singleShot(0, lambda: errors.report(problem))
    if not settings.get("setting/active_model"):
        # No choice made in the app yet: the model that indexed the library (e.g. from the
        # CLI), as `soundalike search` would pick it; saved so every part shows the same one.
        from model.model_id import model_id_of

        indexed, hints = catalog.indexing_models()
        entry = model_registry.resolve_model(indexed=indexed, hints=hints, strict=False, identify=model_id_of)
        if entry is not None:
            settings.set("setting/active_model", str(entry.path))

    def core() -> CoreLibrary:
        entry = model_registry.resolve_model(saved=settings.get("setting/active_model"), strict=False)
        path = entry.path if entry else None
        device = settings.get("setting/compute_device")
        if "lib" not in state or (state["lib"].model_path, state["lib"].device) != (path, device):
            state["lib"] = CoreLibrary(path, device, catalog)
        return state["lib"]

    first = core()
    log.info("soundalike starting: model %s, data dir %s, folders %s", first.model_path,
             model_registry.user_data_dir(), list(settings.get("setting/library_folders")))
    search_backend = first if first.available else UnavailableSearch(NO_MODEL)
    player = Player(DecodeCache())
    player.level_match = bool(settings.get("setting/level_match"))
    search = SearchService(search_backend, pools, errors, player.cache.load, k=settings.get("setting/top_k"))
    playback = PlaybackService(player, pools, errors)
    library = LibraryService(core, settings, pools, errors)
    if catalog.shared:  # other machines add tracks: bring them into this editor's next search
        library.sync_every(settings.get("setting/catalog_sync_s"))

    def training_backend() -> CoreTraining:
        return CoreTraining(core().model_path)

    training = TrainingService(training_backend, settings, pools, errors)

    def on_model_changed(_path: str) -> None:
        library.reset_backend()
        backend = core()
        search.set_backend(backend if backend.available else UnavailableSearch(NO_MODEL))
        library.rescan()

    training.active_model_changed.connect(on_model_changed)

    def warm_up() -> None:
        # Load torch, faiss and the encoder on the encode pool right after the window shows,
        # so the first dropped clip is embedded without waiting for them.
        backend = core()
        if backend.available:
            backend.library.engine.spread  # noqa: B018 - loads the vectors and faiss, samples the calibration

    services_warm_up = warm_up
    if not player.available:
        errors.report(player.reason)
    built = Services(settings, pools, errors, library, search, playback, training,
                     TimelineService(pools, errors), str(log_file))
    built.warm_up_job = services_warm_up
    return built
