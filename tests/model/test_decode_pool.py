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
