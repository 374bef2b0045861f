"""Generator jobs → Qt workers with signals; the one place threads start (house rules 2–5).

A core job is a plain generator that yields progress; ``GeneratorWorker`` runs it on a
pool thread, turns each yield into a queued ``progress_changed`` signal (throttled, so a
fast generator cannot flood the GUI thread), checks ``abort`` between yields, and sends
the generator's return value with ``finished``. Any exception is logged with its
traceback and reported as one sentence through ``errored`` to the error sink.

Pools, one per latency class (Picard's layout): ``encode`` (query embedding, map), ``search``
(new searches; never waits behind long jobs), ``io`` (indexing: serialized catalog writes),
``decode`` (audition decode-ahead), ``train`` (fine-tuning), ``catalog`` (catalog upkeep:
the periodic sync with a shared catalog and integrity checks, which must neither wait
behind an index run nor delay a query). Each has one thread, and all are aborted and
joined with ``waitForDone`` on quit.
"""

from __future__ import annotations

import inspect
import logging
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

log = logging.getLogger(__name__)

POOL_NAMES = ("encode", "search", "io", "decode", "train", "catalog")
PROGRESS_INTERVAL_S = 0.05  # at most 20 progress signals a second reach the GUI thread


class UserFacingError(Exception):
    """An error whose message is already a sentence for the user (no 'details in log' suffix)."""


def describe_error(exc: BaseException, task: str) -> str:
    """A sentence for the status bar: the core's one-line reason when it has one."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, UserFacingError):
        return reason
    name = type(exc).__name__
    if name in {"AudioError", "CatalogError", "SearchError", "FinetuneError", "CliError"}:
        return f"{task.capitalize()} failed: {reason}"
    return f"{task.capitalize()} failed ({reason}); details are in the log file."


class WorkerSignals(QObject):
    progress_changed = Signal(object)
    finished = Signal(object)
    errored = Signal(str)
    aborted = Signal()


class GeneratorWorker(QRunnable):
    """Runs ``fn(*args)``; if it returns a generator, iterates it with abort checks."""

    def __init__(
        self, fn: Callable[..., Any], *args: Any, task: str = "background work",
        throttle_s: float = PROGRESS_INTERVAL_S,
    ) -> None:
        super().__init__()
        self.throttle_s = throttle_s  # 0: every yield is delivered (e.g. per-epoch results)
        self.signals = WorkerSignals()
        self.task = task
        self._fn = fn
        self._args = args
        self._abort = threading.Event()
        self.done = threading.Event()

    def abort(self) -> None:
        self._abort.set()

    @property
    def abort_requested(self) -> bool:
        return self._abort.is_set()

    def run(self) -> None:  # noqa: D102 - QRunnable override, runs on the pool thread
        try:
            if self._abort.is_set():
                self.signals.aborted.emit()
                return
            result = self._fn(*self._args)
            if inspect.isgenerator(result):
                result = self._iterate(result)
                if result is _ABORTED:
                    self.signals.aborted.emit()
                    return
            self.signals.finished.emit(result)
        except Exception as exc:  # noqa: BLE001 - every failure goes to the error sink
            log.error("%s failed:\n%s", self.task, traceback.format_exc())
            self.signals.errored.emit(describe_error(exc, self.task))
        finally:
            self.done.set()

    def _iterate(self, gen: Any) -> Any:
        last_emit = 0.0
        pending = None
        while True:
            if self._abort.is_set():
                gen.close()  # runs the generator's finally blocks (commit/cleanup in core)
                return _ABORTED
            try:
                item = next(gen)
            except StopIteration as stop:
                if pending is not None:
                    self.signals.progress_changed.emit(pending)
                return stop.value
            now = time.monotonic()
            if now - last_emit >= self.throttle_s:
                self.signals.progress_changed.emit(item)
                last_emit, pending = now, None
            else:
                pending = item


_ABORTED = object()


class Pools:
    """The application's thread pools and the workers currently queued or running on them."""

    def __init__(self) -> None:
        self._pools: dict[str, QThreadPool] = {}
        for name in POOL_NAMES:
            pool = QThreadPool()
            pool.setMaxThreadCount(1)
            pool.setObjectName(f"{name}_pool")
            self._pools[name] = pool
        self._live: set[GeneratorWorker] = set()
        self._lock = threading.Lock()

    def pool(self, name: str) -> QThreadPool:
        return self._pools[name]

    def start(self, name: str, worker: GeneratorWorker) -> GeneratorWorker:
        worker.setAutoDelete(False)  # Python keeps the reference until it is done
        with self._lock:
            self._live.add(worker)
        for signal in (worker.signals.finished, worker.signals.errored, worker.signals.aborted):
            signal.connect(lambda *_a, w=worker: self._forget(w))
        self._pools[name].start(worker)
        return worker

    def _forget(self, worker: GeneratorWorker) -> None:
        with self._lock:
            self._live.discard(worker)

    @property
    def busy(self) -> bool:
        return any(pool.activeThreadCount() for pool in self._pools.values())

    def wait(self, msecs: int = -1) -> bool:
        return all(pool.waitForDone(msecs) for pool in self._pools.values())

    def shutdown(self, msecs: int = 10000) -> bool:
        """Abort every worker, drop queued ones, and join the pools (called on quit)."""
        with self._lock:
            live = list(self._live)
        for worker in live:
            worker.abort()
        for pool in self._pools.values():
            pool.clear()
        return self.wait(msecs)


class ErrorSink(QObject):
    """The one place worker and service errors go: logged, then shown by the UI (status bar)."""

    error_reported = Signal(str)
    notice_reported = Signal(str)

    def report(self, message: str) -> None:
        log.warning("reported to user: %s", message)
        self.error_reported.emit(message)

    def notice(self, message: str) -> None:
        log.info("notice: %s", message)
        self.notice_reported.emit(message)
