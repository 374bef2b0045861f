"""Incremental, resumable, cancellable indexing of music folders into a catalog.

Public API::

    summary = IndexSummary()
    for progress in index_folders(catalog, ["~/Music"], encoder, summary=summary):
        ...                      # each yield is a Progress and a cancellation point
    summary.added, summary.failed, ...

What a run does:
1. Scans the folders (app.core.scanner) and compares with the catalog (app.core.index_plan):
   files with new content, files left ``pending`` by an interrupted run, and files embedded
   by another model (``encoder.model_id``) are (re-)indexed; moved, renamed or copied files
   keep their vectors (matched by content fingerprint); files gone from disk are marked
   missing; files that failed before and did not change are not retried.
2. Decodes in worker processes (``workers``, default ``cpu_count - 1``, at least 1), which
   also read the tags, while this process runs the batched encoder: on 2 cores one decodes
   while the other embeds. ``workers=0`` decodes inline.
3. Writes each batch of finished files in ONE transaction (app.core.catalog), so ``kill -9``
   loses at most the batch in flight and the next run completes it without duplicates.
   A file that cannot be decoded is stored with its reason and skipped.

Progress: ``done``/``total`` count files to index; ``rate`` is seconds of AUDIO indexed per
wall second (the "214x" the UI shows) and ``eta_s`` extrapolates it. Cancelling: stop
iterating (``close()`` the generator) or set ``cancel``; the batch in flight is dropped and
the worker processes are shut down before the generator returns.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from app.core.catalog import Catalog, TrackRecord
from app.core.fingerprint import fingerprint_or_none
from app.core.index_plan import apply_plan, make_plan
from app.core.scanner import ScannedFile, scan
from app.core.types import Progress
from model.dimensions import normalize_blocks

if TYPE_CHECKING:
    from model.encoder import Encoder

Cancel = Callable[[], bool] | threading.Event | None


@dataclass
class IndexSummary:
    """Counts of one run, filled in while it goes (mutable on purpose: read it at the end)."""

    scanned: int = 0
    added: int = 0
    updated: int = 0
    reembedded: int = 0
    unchanged: int = 0
    removed: int = 0
    moved: int = 0  # new path, known content: vectors kept, nothing decoded
    copied: int = 0  # a second copy of known content: vectors copied, nothing decoded
    missing: int = 0  # files gone from disk this run (kept, out of the results)
    returned: int = 0  # missing files found again at their path
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    problems: list[tuple[str, str]] = field(default_factory=list)  # scan problems
    audio_seconds: float = 0.0
    cancelled: bool = False


@dataclass(frozen=True)
class Decoded:
    """What a worker sends back for one file."""

    file: ScannedFile
    windows: np.ndarray | None  # (n, WINDOW_SAMPLES) float32
    padded: bool
    duration_s: float
    tags: dict[str, object]
    error: str = ""


def decode_file(file: ScannedFile) -> Decoded:
    """Decode one file into network windows and read its tags (runs in a worker process)."""
    from app.core.tags import read_tags
    from model.audio import AudioError, stream_windows

    if file.fingerprint is None:
        file = replace(file, fingerprint=fingerprint_or_none(file.path))
    tags = read_tags(file.path)
    try:
        batches = list(stream_windows(file.path, 64, native=True))
        windows = np.concatenate([b.samples for b in batches])
    except AudioError as exc:
        return Decoded(file, None, False, 0.0, tags, str(exc) or "cannot decode")
    except MemoryError:
        return Decoded(file, None, False, 0.0, tags, f"{file.path}: too long to decode in memory")
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a run; keep the reason
        return Decoded(file, None, False, 0.0, tags, f"{file.path}: {type(exc).__name__}: {exc}")
    return Decoded(file, windows, batches[-1].padded, batches[-1].decoded_s, tags)


def _watch_parent(pid: int) -> None:
    """Worker initializer: exit when the indexing process is gone (e.g. killed with -9).

    A forkserver worker is not the indexer's child, so nothing else would stop it.
    """

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:  # pid reused by another user's process: ours is gone
                os._exit(0)

    threading.Thread(target=watch, name="watch-indexer", daemon=True).start()


def _cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def index_folders(
    catalog: Catalog,
    folders: Sequence[str | os.PathLike[str]],
    encoder: Encoder,
    *,
    cancel: Cancel = None,
    workers: int | None = None,
    batch_windows: int = 64,
    max_batch_tracks: int = 32,
    summary: IndexSummary | None = None,
) -> Iterator[Progress]:
    """Index ``folders`` into ``catalog`` with ``encoder``; yields Progress (see module doc)."""
    summary = summary if summary is not None else IndexSummary()
    roots = [os.path.abspath(os.path.expanduser(os.fspath(f))) for f in folders]
    files: list[ScannedFile] = []
    for file in scan(roots, summary.problems):
        files.append(file)
        if len(files) % 500 == 0:
            yield Progress(len(files), None, f"scanning: {len(files)} audio files found")
            if _cancelled(cancel):
                summary.cancelled = True
                return
    summary.scanned = len(files)
    existing_roots = [r for r in roots if os.path.exists(r)]
    catalog.note_model_path(str(encoder.model_id), os.path.abspath(encoder.info.path))
    plan = make_plan(catalog, files, existing_roots, str(encoder.model_id), summary)
    summary.removed = apply_plan(catalog, plan)
    todo = plan.todo
    total = len(todo)
    yield Progress(0, total, f"{total} files to index ({summary.unchanged} unchanged)")
    if not todo:
        return
    yield from _embed_all(catalog, todo, encoder, cancel, workers, batch_windows,
                          max_batch_tracks, summary)


class _Decoders:
    """Worker processes that decode files; survives a worker dying on a malicious file.

    When a worker dies (a decoder crash kills the process, and with it every future in
    flight), the files in flight are retried one at a time in a fresh pool; a file that
    kills its worker alone is recorded as failed.
    """

    def __init__(self, n_workers: int, job: Callable[[ScannedFile], Decoded] = decode_file) -> None:
        self.n_workers = n_workers
        self.job = job  # a module-level function (it is pickled to the workers)
        self.pool: ProcessPoolExecutor | None = None
        self.in_flight: dict[Future[Decoded], ScannedFile] = {}
        self.suspects: list[ScannedFile] = []
        self.retried: set[str] = set()

    def _pool(self) -> ProcessPoolExecutor:
        if self.pool is None:
            # forkserver: workers never inherit torch's thread pools (fork after torch can hang).
            context = multiprocessing.get_context("forkserver")
            self.pool = ProcessPoolExecutor(
                self.n_workers, mp_context=context, initializer=_watch_parent, initargs=(os.getpid(),)
            )
        return self.pool

    def fill(self, queue: list[ScannedFile]) -> None:
        if self.suspects:
            if not self.in_flight:
                file = self.suspects.pop()
                self.in_flight[self._pool().submit(self.job, file)] = file
            return
        while queue and len(self.in_flight) < 2 * self.n_workers + 1:
            file = queue.pop()
            self.in_flight[self._pool().submit(self.job, file)] = file

    def collect(self, timeout: float) -> list[Decoded]:
        finished, _ = wait(list(self.in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        out: list[Decoded] = []
        broken = False
        for future in finished:
            file = self.in_flight.pop(future)
            try:
                out.append(future.result())
            except BrokenProcessPool:
                broken = True
                if file.path in self.retried:
                    out.append(Decoded(file, None, False, 0.0, {}, f"{file.path}: the decoder crashed on this file"))
                else:
                    self.retried.add(file.path)
                    self.suspects.append(file)
        if broken:
            self.suspects.extend(f for f in self.in_flight.values() if f.path not in self.retried)
            self.retried.update(f.path for f in self.in_flight.values())
            self.in_flight.clear()
            self.close()
        return out

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


def _embed_all(
    catalog: Catalog, todo: list[ScannedFile], encoder: Encoder, cancel: Cancel,
    workers: int | None, batch_windows: int, max_batch_tracks: int, summary: IndexSummary,
) -> Iterator[Progress]:
    model_id = str(encoder.model_id)
    n_workers = max(1, (os.cpu_count() or 2) - 1) if workers is None else workers
    decoders = _Decoders(n_workers) if n_workers > 0 else None
    queue = list(reversed(todo))
    ready: list[Decoded] = []
    done, total = 0, len(todo)
    started = time.monotonic()

    def busy() -> bool:
        return decoders is not None and bool(decoders.in_flight or decoders.suspects)

    try:
        while queue or busy() or ready:
            if _cancelled(cancel):
                summary.cancelled = True
                return
            n_ready = sum(len(d.windows) for d in ready if d.windows is not None)
            if decoders is None:
                if queue:
                    ready.append(decode_file(queue.pop()))
            else:
                decoders.fill(queue)
                if busy() and n_ready < batch_windows and len(ready) < max_batch_tracks:
                    ready.extend(decoders.collect(timeout=0.5))
            n_ready = sum(len(d.windows) for d in ready if d.windows is not None)
            flush = n_ready >= batch_windows or len(ready) >= max_batch_tracks
            if not ready or not (flush or (not queue and not busy())):
                continue
            records = _embed_batch(ready, encoder, model_id)
            catalog.write_batch(records)
            for rec in records:
                if rec.error:
                    summary.failed.append((rec.path, rec.error))
                else:
                    summary.audio_seconds += rec.duration_s or 0.0
            done += len(records)
            ready = []
            rate = summary.audio_seconds / max(time.monotonic() - started, 1e-6)
            mean_s = summary.audio_seconds / max(1, done - len(summary.failed))
            eta = (total - done) * mean_s / rate if rate > 0 else None
            yield Progress(
                done, total, f"indexed {done}/{total} files, {rate:.0f}x real time on {encoder.device.type.upper()}",
                rate=rate, eta_s=eta,
            )
    finally:
        if decoders is not None:
            decoders.close()


def _embed_batch(ready: list[Decoded], encoder: Encoder, model_id: str) -> list[TrackRecord]:
    """One encoder call for all windows of ``ready``; records for the good and the bad."""
    records: list[TrackRecord] = []
    widths = sorted({d.windows.shape[1] for d in ready if d.windows is not None})
    for width in widths:  # one call per sample rate (22.05 / 44.1 kHz windows differ in width)
        good = [d for d in ready if d.windows is not None and d.windows.shape[1] == width]
        stacked = np.concatenate([d.windows for d in good])  # type: ignore[misc]
        vectors = np.asarray(encoder.embed_windows(stacked), dtype=np.float32)
        start = 0
        for d in good:
            n = len(d.windows)  # type: ignore[arg-type]
            windows = vectors[start : start + n]
            start += n
            records.append(
                TrackRecord(
                    d.file.path, d.file.size, d.file.mtime_ns, d.duration_s, d.tags, model_id,
                    track=normalize_blocks(windows.mean(axis=0)), windows=windows, padded=d.padded,
                    fingerprint=d.file.fingerprint,
                )
            )
    for d in ready:
        if d.windows is None:
            records.append(
                TrackRecord(d.file.path, d.file.size, d.file.mtime_ns, None, d.tags, error=d.error,
                            fingerprint=d.file.fingerprint)
            )
    return records
