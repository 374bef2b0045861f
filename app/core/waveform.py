"""Waveform peaks for drawing, and the query's best region to match.

Why a region: a temp track is often minutes long with intros and breakdowns; the part
an editor wants replaced is usually the busiest stretch. We preselect the 15–30 s span
with the highest loudness plus onset density, and the user can drag it.
"""

from __future__ import annotations

import numpy as np

from model.constants import SAMPLE_RATE  # the rate model.audio decodes to

FRAME_S = 0.25  # s per analysis frame for region picking (coarse is enough, and fast)
MIN_REGION_S = 15.0  # s, shortest preselected region
MAX_REGION_S = 30.0  # s, longest preselected region
DEFAULT_REGION_S = 20.0  # s, preselected length when the clip is longer than MAX_REGION_S


def peaks(samples: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Min and max per bin (``bins`` columns of a drawing), as float32 in [-1, 1]."""
    bins = max(1, int(bins))
    x = np.asarray(samples, dtype=np.float32)
    if x.size == 0:
        zeros = np.zeros(bins, np.float32)
        return zeros, zeros.copy()
    edges = np.linspace(0, x.size, bins + 1).astype(np.int64)
    edges[1:] = np.maximum(edges[1:], edges[:-1] + 1)  # every bin at least one sample
    edges = np.minimum(edges, x.size)
    starts = np.minimum(edges[:-1], x.size - 1)
    lo = np.minimum.reduceat(x, starts)
    hi = np.maximum.reduceat(x, starts)
    return np.clip(lo, -1, 1), np.clip(hi, -1, 1)


def frame_features(samples: np.ndarray, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame RMS and onset strength (positive RMS flux of 1/4-frame sub-blocks)."""
    x = np.asarray(samples, dtype=np.float32)
    hop = max(4, 4 * (int(FRAME_S * sample_rate) // 4))  # divisible into 4 sub-blocks
    n = x.size // hop
    if n == 0:
        return np.zeros(0, np.float32), np.zeros(0, np.float32)
    sub = x[: n * hop].reshape(n * 4, hop // 4)
    sub_rms = np.sqrt(np.mean(sub.astype(np.float64) ** 2, axis=1))
    flux = np.maximum(np.diff(sub_rms, prepend=sub_rms[:1]), 0.0).reshape(n, 4).sum(axis=1)
    rms = np.sqrt(np.mean(x[: n * hop].reshape(n, hop).astype(np.float64) ** 2, axis=1))
    return rms.astype(np.float32), flux.astype(np.float32)


def best_region(
    samples: np.ndarray,
    sample_rate: int = SAMPLE_RATE,
    length_s: float = DEFAULT_REGION_S,
) -> tuple[float, float]:
    """(start_s, end_s) of the most energetic, busiest stretch; the whole clip if short.

    A clip up to MAX_REGION_S long is used whole. Longer clips get a ``length_s`` window
    (clamped to [MIN_REGION_S, MAX_REGION_S]) maximising normalised RMS + onset density.
    """
    duration = len(samples) / sample_rate
    if duration <= MAX_REGION_S:
        return 0.0, duration
    length_s = float(np.clip(length_s, MIN_REGION_S, MAX_REGION_S))
    rms, flux = frame_features(samples, sample_rate)
    width = max(1, int(round(length_s / FRAME_S)))
    if rms.size <= width:
        return 0.0, duration

    def norm(v: np.ndarray) -> np.ndarray:
        span = float(v.max() - v.min())
        return (v - v.min()) / span if span > 0 else np.zeros_like(v)

    score = norm(rms) + norm(flux)
    window = np.convolve(score, np.ones(width), mode="valid")
    start_frame = int(np.argmax(window))
    start = start_frame * FRAME_S
    return start, min(duration, start + length_s)
