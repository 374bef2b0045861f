"""The real FFT behind the front end and the meters (model.mel, model.bpm, model.loudness).

numpy's by default; scipy's once a process that decodes many files asks for it
(``use_scipy()``: the decoder workers of model.decode_pool). On float32 frames scipy's
pocketfft, on one thread, ran 3 to 5x numpy's (ms of CPU per second of audio: front end's
1024-point frames 0.06 against 0.20, BPM's 512-point 0.03 against 0.14, loudness's
2205-point 0.04 against 0.13). Both compute the same transform (float32 in, complex64 out).

Importing ``scipy.fft`` costs 240 ms of CPU (its package pulls in scipy's array-API layer),
paid by the fork server of every index run; the pocketfft extension module alone loads in
about 2 ms, so ``use_scipy`` loads that file by itself (``_pocketfft``) and falls back to
``scipy.fft`` only where scipy is laid out otherwise.
"""

from __future__ import annotations

import contextlib
import functools
import importlib.machinery
import importlib.util
import os
from collections.abc import Callable
from typing import Any

import numpy as np

_rfft: Callable[..., np.ndarray] = np.fft.rfft
EXTENSION = "scipy.fft._pocketfft.pypocketfft"  # the module scipy.fft's rfft calls


def rfft(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``numpy.fft.rfft(x, axis=axis)``, by whichever library this process has chosen."""
    return _rfft(x, axis=axis)


def use_scipy() -> None:
    """From now on, in this process, scipy's FFT on one thread (cheap to call again); numpy's
    stays where scipy is not installed (the desktop bundle leaves scipy out)."""
    global _rfft
    module = _pocketfft()
    if module is not None:
        _rfft = functools.partial(_pocketfft_rfft, module.r2c)
        return
    with contextlib.suppress(ImportError):
        import scipy.fft

        _rfft = functools.partial(scipy.fft.rfft, workers=1)


@functools.cache
def _pocketfft() -> Any:
    """scipy's pocketfft extension, loaded from its file without importing its packages;
    None when scipy is missing, or the file is not where scipy 1.x keeps it, or will not load."""
    try:
        spec = importlib.util.find_spec("scipy")
    except (ImportError, ValueError):
        return None
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        for suffix in importlib.machinery.EXTENSION_SUFFIXES:
            path = os.path.join(folder, *EXTENSION.split(".")[1:]) + suffix
            if not os.path.isfile(path):
                continue
            loader = importlib.machinery.ExtensionFileLoader(EXTENSION, path)
            try:
                module = importlib.util.module_from_spec(importlib.util.spec_from_loader(EXTENSION, loader))
                loader.exec_module(module)
            except ImportError:
                return None
            return module if callable(getattr(module, "r2c", None)) else None
    return None


def _pocketfft_rfft(r2c: Callable[..., np.ndarray], x: np.ndarray, axis: int = -1) -> np.ndarray:
    # What scipy.fft.rfft(x, axis=axis, workers=1) passes on: no padding, no scaling.
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        x = x.astype(np.float64)
    return r2c(x, (axis,), True, 0, None, 1)
