"""Decode files in worker processes that stream each file back in bounded pieces.

Why processes: decoding (libsndfile, soxr), down-mixing and tag reading keep the GIL often
enough that threads next to torch's own leave a core idle. Why one pipe per worker rather
than a process pool: a pool returns a job's result whole, so a 2-hour file would cross as
1.3 GB of windows; here a worker sends each piece (a batch of windows) as it is decoded and
blocks while the pipe is full, so memory stays bounded by a few pieces whatever the files'
lengths. A decoder that crashes (a malicious file can kill libsndfile) takes down only its
own worker, and the pool knows which item it was on: that item is reported as ``Crashed``,
a fresh worker takes over the others, nothing is retried.

Workers start through ``forkserver`` (never a fork of a process whose torch threads are
running, which can hang) and leave when the parent goes: their pipe ends.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.forkserver
import queue
import threading
import traceback
from collections import deque
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Generic, TypeVar

from threadpoolctl import threadpool_limits

from model import av_decode, fft

Item = TypeVar("Item")

AHEAD = 2  # items queued per worker, so it never waits for the parent between files
PRELOAD = ("numpy", "av", "soundfile", "soxr", "threadpoolctl")  # every worker's (scipy's FFT: model.fft)
POLL_S = 0.5  # longest wait for a piece before yielding ``None`` (a cancellation point)
# Pieces per worker received ahead of the caller. Bounds memory: a piece is 1 MB of log-mel, or
# 4-8 MB of waveforms for torch on a GPU (16 windows at 22.05 or 44.1 kHz).
QUEUED_PIECES = 2
STOP_CHECK_S = 0.1  # the reader thread's longest wait before it looks whether the caller has stopped


@dataclass(frozen=True)
class Crashed:
    """The job died on this item: its worker crashed, or it raised (``reason`` says which)."""

    reason: str


class _End:
    """Sent by a worker after an item's last piece."""


def _serve(conn: Connection, job: Callable[[object], Iterable[object]]) -> None:
    """A worker's loop: items in, pieces out, until told to stop or the parent is gone.

    A worker is one core's share of the work: numpy's BLAS runs one thread in it (OpenBLAS
    started one per core, whose spinning cost as much CPU as the BPM and loudness meters),
    and it takes the libraries whose import only many files repay (scipy's FFT, PyAV)."""
    threadpool_limits(limits=1, user_api="blas")
    fft.use_scipy()
    av_decode.enable()
    try:
        while (item := conn.recv()) is not None:
            try:
                for piece in job(item):
                    try:
                        conn.send(piece)
                    except OSError:  # BrokenPipeError, ConnectionResetError: not the file's failure
                        return  # the parent has gone or is stopping us (a cancelled run)
            except Exception as exc:  # noqa: BLE001 - reported to the parent as the item's failure
                traceback.print_exc()
                conn.send(Crashed(f"{type(exc).__name__}: {exc}"))
            conn.send(_End())
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass  # the parent has gone or is stopping us


def _forkserver(job: Callable[[Any], Iterable[object]]) -> Any:
    """The forkserver context with ``job``'s imports preloaded, its server running (started
    by the first call; the later ones only return the context)."""
    context = multiprocessing.get_context("forkserver")
    # Imported once, by the fork server, rather than by every worker it forks: two workers
    # importing them cost about a second of CPU, more than bliss-rs's whole start.
    context.set_forkserver_preload([*PRELOAD, getattr(job, "func", job).__module__])
    multiprocessing.forkserver.ensure_running()
    return context


class _Worker(Generic[Item]):
    def __init__(self, job: Callable[[Item], Iterable[object]]) -> None:
        context = _forkserver(job)
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_serve, args=(child, job), name="decoder", daemon=True)
        self.process.start()
        child.close()
        self.items: deque[Item] = deque()  # sent, not finished; the first is being decoded

    def stop(self) -> None:
        try:
            self.conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self.conn.close()
        self.process.join(timeout=2.0)
        if self.process.is_alive():  # stuck in a decoder: no file is worth waiting for
            self.process.kill()
            self.process.join()


def decode_in_processes(
    items: Iterable[Item], job: Callable[[Item], Iterable[object]], workers: int
) -> Generator[tuple[Item, object] | None, None, None]:
    """Run ``job(item)`` in ``workers`` processes; yield ``(item, piece)`` as pieces arrive.

    ``job`` must be a module-level function (it is pickled). Each item's pieces arrive in
    order; items interleave. An item whose job crashed ends with ``(item, Crashed(...))``.
    ``None`` is yielded after ``POLL_S`` without a piece, so the caller can check for
    cancellation. Closing the generator stops the workers.

    The workers start at once, before the first ``next``: the indexer loads its model while
    they decode the first files (a core stood idle for most of a second at every run's start).
    A thread of this process receives the pieces as soon as they are sent and keeps up to
    ``QUEUED_PIECES`` per worker for the caller: a piece of log-mel (1 MB) does not fit in a
    pipe, so a worker used to wait in its send while this process ran the network on
    another's piece (13 % of an index run's decoder time)."""
    received: queue.Queue[object] = queue.Queue(maxsize=QUEUED_PIECES * max(1, workers))
    stop = threading.Event()
    reader = threading.Thread(target=_receive, args=(items, job, workers, received, stop),
                              name="decoder-pipes", daemon=True)  # fmt: skip
    reader.start()
    pieces = _deliver(received, stop, reader)
    next(pieces)  # into its ``try``: closing it now, even before the first piece, stops the reader
    return pieces


def _deliver(
    received: queue.Queue[object], stop: threading.Event, reader: threading.Thread
) -> Generator[tuple[Item, object] | None, None, None]:
    """What the reader thread receives, for the caller; stops the reader when closed.
    Its first ``yield`` (``None``) is taken by ``decode_in_processes``."""
    try:
        yield None
        while True:
            try:
                got = received.get(timeout=POLL_S)
            except queue.Empty:
                yield None
                continue
            if got is _DONE:
                return
            if isinstance(got, BaseException):
                raise got
            yield got  # type: ignore[misc]
    finally:
        stop.set()
        reader.join()


_DONE = object()  # put by the reader after the last piece


def _send(worker: _Worker[Item], item: Item) -> bool:
    """Send ``item`` to ``worker``; False when its process has died (a decoder crash found
    before its pipe's end is read: the item stays in ``worker.items``, handed on with the rest)."""
    try:
        worker.conn.send(item)
    except OSError:  # BrokenPipeError, ConnectionResetError
        return False
    return True


def _receive(
    items: Iterable[Item], job: Callable[[Item], Iterable[object]], workers: int,
    received: queue.Queue[object], stop: threading.Event,
) -> None:
    """The reader thread: feeds the workers their items and puts what they send (then
    ``_DONE``, or the exception that ended it) into ``received``, until ``stop`` is set."""

    def put(got: object) -> bool:
        while not stop.is_set():
            try:
                received.put(got, timeout=STOP_CHECK_S)
                return True
            except queue.Full:
                continue
        return False

    todo = iter(items)
    exhausted = False
    pool: list[_Worker[Item]] = []
    try:
        for _ in range(max(1, workers)):
            pool.append(_Worker(job))  # one by one: if a start fails, the started ones are stopped
        while not stop.is_set():
            for worker in pool:
                while not exhausted and len(worker.items) < AHEAD:
                    item = next(todo, None)
                    if item is None:
                        exhausted = True
                        break
                    worker.items.append(item)
                    if not _send(worker, item):
                        break  # it has crashed: the wait below sees its pipe end, and the item goes on
            busy = [w for w in pool if w.items]
            if not busy:
                put(_DONE)
                return
            ready = wait([w.conn for w in busy], timeout=STOP_CHECK_S)
            for worker in busy:
                if worker.conn not in ready:
                    continue
                try:
                    piece = worker.conn.recv()
                except (EOFError, ConnectionResetError, OSError):
                    crashed = worker.items.popleft()
                    requeue = list(worker.items)
                    worker.items.clear()
                    worker.stop()
                    pool[pool.index(worker)] = replacement = _Worker(job)
                    for item in requeue:
                        replacement.items.append(item)
                        _send(replacement, item)
                    if not put((crashed, Crashed("the decoder crashed on this file"))):
                        return
                    continue
                if isinstance(piece, _End):
                    worker.items.popleft()
                elif not put((worker.items[0], piece)):
                    return
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, raised there
        put(exc)
    finally:
        for worker in pool:
            worker.stop()
