"""Decode files in background threads while the caller runs the network.

libsndfile (through cffi) and soxr release the GIL while they work, so plain threads keep a
second core busy decoding while torch uses the first (measured in ``soundalike bench encode``).
Files are streamed as window batches into a bounded queue, so memory stays bounded by
``queue_batches`` batches whatever the files' lengths, and a consumer that stops early (a
cancelled job, a closed generator) stops the producers too. ``embed_prefetched`` is the
loop both encoders (torch and ONNX) run over it to embed many files.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from model.audio import AudioError, stream_windows
from model.embedding import TrackEmbedding, track_vector


@dataclass(frozen=True)
class WindowBatch:
    """One batch of a file's windows; ``last`` marks the file's final item.

    ``error`` is set (and ``windows`` is None) when the file failed; it is then ``last``.
    """

    index: int
    path: str
    windows: np.ndarray | None
    padded: bool
    last: bool
    error: AudioError | None = None


_DONE = object()


def prefetch_windows(
    paths: Sequence[str | os.PathLike[str]],
    batch_windows: int = 32,
    workers: int = 1,
    queue_batches: int = 4,
    native: bool = False,
) -> Iterator[WindowBatch]:
    """Yield ``WindowBatch`` items for ``paths``; each file's batches arrive in order.

    ``native`` keeps 44.1 kHz files at their rate (``model.audio.stream_windows``).

    With ``workers > 1`` batches of different files interleave; use ``index``/``path``.
    Unexpected exceptions in a worker are re-raised in the consumer.
    """
    items: queue.Queue[object] = queue.Queue(maxsize=max(1, queue_batches))
    stop = threading.Event()
    next_index = iter(range(len(paths)))
    index_lock = threading.Lock()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        try:
            while not stop.is_set():
                with index_lock:
                    i = next(next_index, None)
                if i is None:
                    return
                path = str(paths[i])
                try:
                    for batch in stream_windows(path, batch_windows, native=native):
                        if not put(WindowBatch(i, path, batch.samples, batch.padded, batch.last)):
                            return
                except AudioError as exc:
                    if not put(WindowBatch(i, path, None, False, last=True, error=exc)):
                        return
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, not swallowed
            put(exc)
        finally:
            put(_DONE)

    threads = [
        threading.Thread(target=work, name=f"decode-{n}", daemon=True)
        for n in range(max(1, min(workers, len(paths))))
    ]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = items.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                assert isinstance(item, WindowBatch)
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()


def embed_prefetched(
    embed_windows: Callable[[np.ndarray], np.ndarray],
    paths: Sequence[str | os.PathLike[str]],
    batch_windows: int,
    workers: int,
    native: bool = False,
) -> Iterator[tuple[str, TrackEmbedding | AudioError]]:
    """``(path, TrackEmbedding | AudioError)`` per file in completion order, decoded by
    ``prefetch_windows`` while ``embed_windows`` runs.

    numpy's BLAS runs one thread meanwhile: the cores are already split between decoders
    and the network, and OpenBLAS's idle threads spin (they cost a fifth of an index run's CPU).
    """
    pending: dict[int, list[np.ndarray]] = {}
    padded: dict[int, bool] = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for batch in prefetch_windows(paths, batch_windows, workers, native=native):
            if batch.error is not None:
                pending.pop(batch.index, None)
                yield batch.path, batch.error
                continue
            assert batch.windows is not None
            pending.setdefault(batch.index, []).append(embed_windows(batch.windows))
            padded[batch.index] = padded.get(batch.index, False) or batch.padded
            if batch.last:
                vectors = np.concatenate(pending.pop(batch.index))
                yield batch.path, TrackEmbedding(vectors, track_vector(vectors), padded.pop(batch.index))
