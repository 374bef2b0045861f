"""The real FFT behind the front end and the meters (model.mel, model.bpm, model.loudness).

numpy's by default; scipy's once a process that decodes many files asks for it
(``use_scipy()``: the decoder workers of model.decode_pool). On float32 frames scipy's pocketfft, on one thread, ran 3 to 5x
numpy's (ms of CPU per second of audio: front end's 1024-point frames 0.06 against 0.20,
BPM's 512-point 0.03 against 0.14, loudness's 2205-point 0.04 against 0.13), but importing
scipy.fft costs 170 ms, more than a search query's whole front end, so a search never pays
it. Both compute the same transform (float32 in, complex64 out).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable

import numpy as np

_rfft: Callable[..., np.ndarray] = np.fft.rfft


def rfft(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``numpy.fft.rfft(x, axis=axis)``, by whichever library this process has chosen."""
    return _rfft(x, axis=axis)


def use_scipy() -> None:
    """From now on, in this process, scipy's FFT on one thread (cheap to call again); numpy's
    stays where scipy is not installed (the desktop bundle leaves scipy out)."""
    global _rfft
    with contextlib.suppress(ImportError):
        import scipy.fft

        _rfft = functools.partial(scipy.fft.rfft, workers=1)
