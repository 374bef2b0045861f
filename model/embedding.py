"""What an encoder returns, shared by the torch encoder and the ONNX one (torch-free).

Public API::

    TrackEmbedding(windows, track, padded)
    track_vector(window_vectors) -> (256,)
    available_cores() -> int           # CPU cores this process may run on (either runtime's threads)
    pipeline_threads(cores) -> (network_threads, decode_workers)   # embedding many files
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from model.dimensions import normalize_blocks


@dataclass(frozen=True)
class TrackEmbedding:
    """Vectors for one piece of audio.

    ``windows``: ``(n, 256)`` one per non-overlapping window (window ``i`` starts at
    ``i * WINDOW_SECONDS``); ``track``: ``(256,)`` their block-normalised mean; ``padded``:
    the clip was shorter than one window and was zero-padded.
    """

    windows: np.ndarray
    track: np.ndarray
    padded: bool


def track_vector(window_vectors: np.ndarray) -> np.ndarray:
    """Track vector: mean of the window vectors with each 64-d block re-normalised."""
    window_vectors = np.asarray(window_vectors, dtype=np.float32)
    if window_vectors.ndim != 2 or len(window_vectors) == 0:
        raise ValueError("track_vector needs a non-empty (n, 256) array")
    return normalize_blocks(window_vectors.mean(axis=0))


def available_cores() -> int:
    """CPU cores this process may run on (respects taskset/cgroup affinity)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def pipeline_threads(cores: int) -> tuple[int, int]:
    """``(network_threads, decode_workers)`` for embedding many files on ``cores`` CPU cores.

    Decoding and the network cost about the same per second of audio, so the cores are
    split in half. Oversubscribing is far worse than idling: on 2 cores, 2 torch threads plus
    a decoder ran at 205x realtime, 1 + 1 at 278x, and 2 + 2 collapsed to 30x (OpenMP
    threads spin-waiting for a preempted peer).
    """
    decode_workers = max(1, cores // 2)
    return max(1, cores - decode_workers), decode_workers
