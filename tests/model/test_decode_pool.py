"""Decoder workers take the libraries that only many files repay (scipy's FFT, PyAV)."""

from __future__ import annotations

import numpy as np
import pytest

from model.decode_pool import decode_in_processes


def libraries(item: int):  # noqa: ANN201 - a worker's job: module level, so it pickles
    from model import av_decode, fft

    yield fft._rfft is not np.fft.rfft, av_decode.av is not None


def test_workers_use_scipy_fft_and_pyav() -> None:
    pytest.importorskip("av")
    got = [piece for piece in decode_in_processes([7], libraries, workers=1) if piece is not None]
    assert got == [(7, (True, True))]


def many_pieces(item: int):  # noqa: ANN201 - module level: pickled to the worker
    yield from range(1000)


def test_closing_early_stops_the_reader_and_the_workers() -> None:
    """A cancelled run: the caller stops after a few pieces of a long job; the pool's reader
    thread and its worker process end with it."""
    import multiprocessing
    import threading

    pieces = decode_in_processes([1, 2], many_pieces, workers=1)
    got = [next(p for p in pieces if p is not None) for _ in range(3)]
    assert got == [(1, 0), (1, 1), (1, 2)]
    reader = next(t for t in threading.enumerate() if t.name == "decoder-pipes")
    workers = [p for p in multiprocessing.active_children() if p.name == "decoder"]
    assert len(workers) == 1 and workers[0].is_alive()
    pieces.close()
    assert not reader.is_alive() and not workers[0].is_alive()


def test_the_workers_start_before_the_first_piece_is_asked_for() -> None:
    """The indexer loads its model after starting the pool: the workers must be decoding by
    then, and closing the pool before taking anything must still stop them."""
    import multiprocessing
    import threading
    import time

    pieces = decode_in_processes([1, 2], many_pieces, workers=1)
    deadline = time.monotonic() + 30.0
    while not (workers := [p for p in multiprocessing.active_children() if p.name == "decoder"]):
        assert time.monotonic() < deadline, "no worker started before the first next()"
        time.sleep(0.01)
    reader = next(t for t in threading.enumerate() if t.name == "decoder-pipes")
    pieces.close()
    assert not reader.is_alive() and not workers[0].is_alive()


def test_the_items_iterable_failing_reaches_the_caller() -> None:
    """An exception in the reader thread (here: the items themselves) is raised to the caller."""

    def items():  # noqa: ANN202
        yield 1
        raise RuntimeError("catalog went away")

    with pytest.raises(RuntimeError, match="catalog went away"):
        list(decode_in_processes(items(), many_pieces, workers=1))


def test_a_worker_stopped_mid_file_leaves_quietly(monkeypatch, capsys) -> None:
    """The parent closing the pipe while a worker sends (a cancelled run) is not the file's
    failure: no traceback on stderr, no attempt to report it."""
    import multiprocessing
    import threading

    import model.decode_pool as pool

    monkeypatch.setattr(pool, "threadpool_limits", lambda **_kw: None)  # the worker's setup, not this process's
    monkeypatch.setattr(pool.fft, "use_scipy", lambda: None)
    monkeypatch.setattr(pool.av_decode, "enable", lambda: None)
    parent, child = multiprocessing.Pipe()
    worker = threading.Thread(target=pool._serve, args=(child, many_pieces))
    worker.start()
    parent.send(1)
    assert parent.recv() == 0
    parent.close()
    worker.join(5.0)
    assert not worker.is_alive()
    assert "Traceback" not in capsys.readouterr().err
