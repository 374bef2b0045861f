"""Fine-tuning in the background (train pool), and switching the active model.

The shipped model is never written: outputs go to the user's models dir
(``model_registry.new_user_model_path``)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core import model_registry
from app.services.backends import TrainingBackend, TrainOutcome, TrainRequest, TrainUpdate
from app.services.settings import Settings
from app.services.workers import ErrorSink, GeneratorWorker, Pools

log = logging.getLogger(__name__)

REQUEST_FILE = "request.json"  # what a run was started with, kept in its checkpoint folder


class TrainingService(QObject):
    summary_ready = Signal(dict)  # {dimension: {tag: count}}
    progress_changed = Signal(object)  # TrainUpdate
    training_finished = Signal(object)  # TrainOutcome
    training_failed = Signal(str)
    training_cancelled = Signal(object)  # TrainOutcome of the best epoch kept, or None
    active_model_changed = Signal(str)  # path

    def __init__(
        self,
        backend_factory: Callable[[], TrainingBackend | None],
        settings: Settings,
        pools: Pools,
        errors: ErrorSink,
        models_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self._factory = backend_factory
        self._settings = settings
        self._pools = pools
        self._errors = errors
        self._models_dir = models_dir
        self._worker: GeneratorWorker | None = None
        self._output: Path | None = None
        self._backend: TrainingBackend | None = None

    @property
    def available(self) -> bool:
        return self._factory() is not None

    @property
    def is_training(self) -> bool:
        return self._worker is not None

    def models(self) -> list[model_registry.ModelEntry]:
        return model_registry.list_models(self._models_dir)

    def active_model(self) -> model_registry.ModelEntry | None:
        return model_registry.resolve_model(
            saved=self._settings.get("setting/active_model"), user_dir=self._models_dir, strict=False
        )

    def summarize(self, source: str, mode: str) -> None:
        backend = self._factory()
        if backend is None:
            return
        worker = GeneratorWorker(backend.summarize, source, mode, task="reading the training source")
        worker.signals.finished.connect(self.summary_ready.emit)
        worker.signals.errored.connect(self._errors.report)
        self._pools.start("train", worker)

    def interrupted_runs(self) -> list[TrainRequest]:
        """Runs that stopped without writing their model (app closed, crash): resumable."""
        directory = self._models_dir or model_registry.user_models_dir()
        runs = []
        for workdir in sorted(directory.glob("*.training")) if directory.is_dir() else []:
            meta = workdir / REQUEST_FILE
            output = workdir.with_name(workdir.name.removesuffix(".training") + model_registry.MODEL_SUFFIX)
            if meta.exists() and (workdir / "last.pt").exists() and not output.exists():
                try:
                    fields = json.loads(meta.read_text())
                    runs.append(TrainRequest(**{**fields, "output": str(output), "resume": True}))
                except (OSError, ValueError, TypeError):
                    log.warning("ignoring unreadable %s", meta)
        return runs

    def start(self, source: str, mode: str, epochs: int, device: str, steps_per_epoch: int = 0) -> None:
        stem = f"finetuned-{Path(source).stem or 'library'}"
        output = model_registry.new_user_model_path(stem, self._models_dir)
        self.run(TrainRequest(source, mode, epochs, device, str(output), steps_per_epoch))

    def run(self, request: TrainRequest) -> None:
        """Start (or, with ``request.resume``, continue) a training run in the background."""
        backend = self._factory()
        if backend is None or self._worker is not None:
            return
        output = Path(request.output)
        workdir = output.with_name(output.stem + ".training")
        workdir.mkdir(parents=True, exist_ok=True)
        fields = {k: v for k, v in asdict(request).items() if k not in ("output", "resume")}
        (workdir / REQUEST_FILE).write_text(json.dumps(fields))  # lets a later session resume it
        self._backend = backend
        # Unthrottled: each epoch's validation result must reach the plot.
        worker = GeneratorWorker(backend.fit, request, task="training", throttle_s=0.0)
        worker.signals.progress_changed.connect(self._on_progress)
        worker.signals.finished.connect(self._on_finished)
        worker.signals.aborted.connect(self._on_cancelled)
        worker.signals.errored.connect(self._on_failed)
        self._worker = worker
        self._output = output
        self._pools.start("train", worker)

    def cancel(self) -> None:
        """Stop training; the backend keeps the best epoch so far as a usable model."""
        if self._worker is not None:
            self._worker.abort()

    def stop_for_quit(self) -> None:
        """Stop because the app quits: keep the checkpoints as they are, so the run can be
        resumed next time instead of being turned into a finished model."""
        if self._worker is not None:
            if self._backend is not None and hasattr(self._backend, "keep_best_on_cancel"):
                self._backend.keep_best_on_cancel = False
            self._worker.abort()

    def _on_progress(self, update: TrainUpdate) -> None:
        self.progress_changed.emit(update)

    def _on_finished(self, outcome: TrainOutcome) -> None:
        self._worker = None
        self.training_finished.emit(outcome)

    def _on_cancelled(self) -> None:
        self._worker = None
        self.training_cancelled.emit(self._kept_outcome())

    def _kept_outcome(self) -> TrainOutcome | None:
        """The best epoch of a cancelled run, when the backend kept it as a model file."""
        output = self._output
        if output is None or not output.exists():
            return None
        card = next((e.card for e in self.models() if e.path == output), {})
        before = {k: float(v) for k, v in dict(card.get("validation_before") or {}).items()}
        after = {k: float(v) for k, v in dict(card.get("validation_after") or {}).items()}
        return TrainOutcome(str(output), before, after, dict(card))

    def _on_failed(self, message: str) -> None:
        self._worker = None
        self.training_failed.emit(message)
        self._errors.report(message)

    def use_model(self, path: str) -> None:
        """Make ``path`` the active model; listeners rebuild search and re-index."""
        self._settings.set("setting/active_model", path)
        self.active_model_changed.emit(path)

    def reload_model(self) -> None:
        """Re-open the active model (e.g. on another compute device)."""
        self.active_model_changed.emit(self._settings.get("setting/active_model"))

    def discard(self, path: str) -> None:
        target = Path(path).resolve()
        if target.parent == model_registry.SHIPPED_MODELS_DIR.resolve():
            raise ValueError("the shipped model is never deleted")
        for candidate in (target, target.with_suffix(".card.json"), target.with_suffix(".onnx")):  # + its ONNX twin
            candidate.unlink(missing_ok=True)
        shutil.rmtree(target.with_name(target.stem + ".training"), ignore_errors=True)  # checkpoints
