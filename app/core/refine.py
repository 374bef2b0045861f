"""Placing a same-recording match to the frame: the query's band energies against the track's audio.

Window embeddings place a clip within a fraction of a window, but they blur: neighbouring
offsets score alike, a looping game track's repeats score alike, and under noise or a pitch
change the best window sequence is often another passage of the right track. When a result
is the recording the query was cut from (an editor's temp cut from a library track: the
conform case), its audio lines up with the query frame by frame, and the normalised
cross-correlation (NCC) of their log band energies (``BANDS`` bands of the mel spectrum,
one 23-ms frame per lag) shows it: measured on the real test split (supertux + extremetuxracer,
15-s excerpts), the source peaks at a median 0.88 (5th percentile 0.56, noisy and pitched
included) where other recordings stay below 0.38 in 99 % of cases. So:

1. the window alignment's best few distinct offsets (``alignment.best_offsets``) are the
   candidates, best first;
2. around the first, ``RADIUS_S`` either side, the track's audio is decoded and the NCC is
   taken at every frame lag; when it reaches ``SURE_NCC`` the result is placed there;
3. when it is below ``OTHER_NCC`` the result is another recording (other recordings: median
   0.06; the source's first candidate fell that low only where its window offset was wrong
   anyway) and keeps its window offset, so most searches for music not in the library
   decode one region;
4. otherwise the other candidates are tried the same way and the best lag of all is taken
   when it reaches ``MATCH_NCC`` (a gross miss of the window alignment: noise, or a looping
   track's repeat of the passage, which correlates at 0.5-0.8 where the passage itself
   reaches 0.8-0.9: accepting the first match above ``MATCH_NCC`` left 5 % of clean
   excerpts more than 3 s off, trying the rest below ``SURE_NCC`` none); below it, the
   result keeps the window offset.

5. when the top result is not the query's recording, the next ``PROMOTE_RANKS - 1`` results
   are checked at their first candidate only (one region each, stopping at the first that
   ``confirms``); a confirmed one is the recording the query was cut from and is promoted
   to the top, then placed as above. Under noise the source is often second to fifth by
   its windows (real test split, noisy: first in 82 %), and its audio still says so.

Pitch: 16 bands of 8 mel bands each are wide against a semitone (a 6 % shift), so a pitched
query still correlates. Tempo: a retimed query (a PAL speed-up, 4 %) drifts off the track's
frames, 0.6 s over 15 s; where its own tempo correlates only in part, the pattern is also
warped to ``TEMPI`` (no extra decoding) and the best taken. Cost: one decode of ``query + 2 * RADIUS_S`` seconds per candidate
tried for the top result, plus one per lower result checked when the top result is another
recording (at most ``PROMOTE_RANKS - 1``: music not in the library pays them all), kept per
query and track (``SearchEngine``).
"""

from __future__ import annotations

import functools
import os

import numpy as np

from model.audio import HOP_LENGTH, SAMPLE_RATE, AudioError, load_audio
from model.mel import mel_filters

BANDS = 16  # log-mel bands pooled 8 by 8: coarse enough for a pitch shift, fine enough to tell passages
FRAME_SECONDS = HOP_LENGTH / SAMPLE_RATE  # 23 ms: one lag step
RADIUS_FRAMES = 64  # frames searched either side of a candidate offset (1.49 s)
RADIUS_S = RADIUS_FRAMES * FRAME_SECONDS
NEAR_PENALTY = 0.05  # NCC per second away from the candidate: of near-equal lags (a beat-periodic
# passage repeats every beat), the one nearest the window alignment wins
MATCH_NCC = 0.5  # NCC at or above this: the same recording (other recordings: < 0.38 in 99 %)
SURE_NCC = 0.85  # first candidate at or above this: placed there, the rest are not tried
OTHER_NCC = 0.1  # first candidate below this: another recording, the rest are not tried
TEMPI = (1.0, 0.96, 1.04, 0.92, 1.08)  # query tempo / track tempo tried (PAL speed-ups, a retimed cut)
CANDIDATES = 5  # window-alignment offsets tried at most (the first, then the rest on a miss)
PROMOTE_RANKS = 3  # results checked by their audio when the top one is another recording: on the
# real test split the source's window rank, when not first, was 2nd or 3rd in 9 of 11 noisy or pitched
# excerpts (4th-8th: 2); each rank checked costs music not in the library one more region


@functools.cache
def _band_filters() -> np.ndarray:
    """``(HOP_LENGTH // 2 + 1, BANDS)``: the mel filters summed 8 by 8, at one-hop frames' bins.

    Contiguous, for ``band_pattern``'s einsum loop.
    """
    mel = mel_filters()[:, ::2]  # the network's 1024-point bins, every other: 512-sample frames
    return np.ascontiguousarray(mel.reshape(BANDS, -1, mel.shape[1]).sum(axis=1).T)


def band_pattern(samples: np.ndarray) -> np.ndarray:
    """22 050 Hz mono -> ``(frames, BANDS)`` log band energies, one row per 23-ms frame."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    n = samples.size // HOP_LENGTH
    spectrum = np.fft.rfft(samples[: n * HOP_LENGTH].reshape(n, HOP_LENGTH), axis=1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    # numpy's own loop, one thread: through BLAS this small product (3 M multiply-adds for
    # 18 s) goes multithreaded, and the threads' spinning afterwards cost 8 ms of CPU per
    # call, more than the rest of this function (measured on a loaded 2-core machine).
    return np.log10(1.0 + 10.0 * np.einsum("fk,kb->fb", power, _band_filters()))


def normalized_xcorr(query: np.ndarray, track: np.ndarray) -> np.ndarray:
    """NCC of ``query`` ``(m, b)`` with ``track[lag : lag + m]`` for every lag (``n - m + 1`` values).

    Each band's mean is removed over the compared span (the query's once, the track's per
    lag), so a level or EQ difference does not count; the products come from one FFT.
    """
    m, n = query.shape[0], track.shape[0]
    if m == 0 or n < m:
        return np.zeros(0)
    q = query - query.mean(axis=0)
    q /= np.linalg.norm(q) + 1e-9
    size = 1 << int(np.ceil(np.log2(n + m)))
    products = np.fft.irfft(np.fft.rfft(q[::-1], size, axis=0) * np.fft.rfft(track, size, axis=0), size, axis=0)
    dots = products.sum(axis=1)[m - 1 : n]
    t = np.vstack([np.zeros((1, track.shape[1])), track.astype(np.float64)])
    sums, squares = np.cumsum(t, axis=0), np.cumsum(t * t, axis=0)
    s, s2 = sums[m:] - sums[:-m], squares[m:] - squares[:-m]
    return dots / np.sqrt(np.maximum((s2 - s * s / m).sum(axis=1), 1e-9))


def warp(pattern: np.ndarray, tempo: float) -> np.ndarray:
    """``pattern`` on the track's time axis when the query plays ``tempo`` times faster (a
    PAL speed-up: 1.04): query frame ``i`` falls on track frame ``i * tempo`` (linear
    interpolation between frames)."""
    if tempo == 1.0:
        return pattern
    m = pattern.shape[0]
    at = np.minimum(np.arange(int(m * tempo)) / tempo, m - 1)
    below = np.minimum(at.astype(np.int64), m - 2) if m > 1 else np.zeros(at.size, np.int64)
    frac = (at - below)[:, None]
    return pattern[below] * (1 - frac) + pattern[np.minimum(below + 1, m - 1)] * frac


def _region(pattern: np.ndarray, offset_s: float) -> tuple[float, int, float]:
    """``(start_s, lags, end_s)``: the audio ``place`` needs around ``offset_s`` and its lag count."""
    # Whole frames before the candidate, so that the candidate itself is one of the lags.
    start = offset_s - min(RADIUS_FRAMES, int(offset_s / FRAME_SECONDS)) * FRAME_SECONDS
    lags = int(round((offset_s - start) / FRAME_SECONDS)) + RADIUS_FRAMES + 1
    return start, lags, start + (int(pattern.shape[0] * max(TEMPI)) + lags) * FRAME_SECONDS


def place(pattern: np.ndarray, path: str | os.PathLike[str], offset_s: float) -> tuple[float, float] | None:
    """Best ``(offset_s, ncc)`` of ``pattern`` within ``RADIUS_S`` of ``offset_s`` in ``path``'s
    audio, at the query's own tempo or, between ``OTHER_NCC`` and ``SURE_NCC`` there (a retimed
    source correlates in part), at the best of ``TEMPI``; None when the file cannot be read or
    is too short there."""
    return place_all(pattern, path, [offset_s])[0]


def place_all(
    pattern: np.ndarray, path: str | os.PathLike[str], offsets: list[float]
) -> list[tuple[float, float] | None]:
    """``place`` at each of ``offsets``, decoding each stretch of audio once: candidates a few
    seconds apart need overlapping regions (each is the query's length plus ``2 * RADIUS_S``)."""
    regions = sorted((*_region(pattern, o), o, n) for n, o in enumerate(offsets))
    out: list[tuple[float, float] | None] = [None] * len(offsets)
    group: list[tuple[float, int, float, float, int]] = []
    for region in [*regions, None]:
        if group and (region is None or region[0] > max(r[2] for r in group)):
            begin, end = group[0][0], max(r[2] for r in group)
            try:
                track = band_pattern(load_audio(path, offset_s=begin, duration_s=end - begin))
            except (AudioError, OSError):
                track = np.zeros((0, BANDS), np.float32)
            for start, lags, _, offset_s, n in group:
                first = int(round((start - begin) / FRAME_SECONDS))
                at = begin + first * FRAME_SECONDS
                out[n] = _best(pattern, track[first:], at, lags, offset_s)
            group = []
        if region is not None:
            group.append(region)
    return out


def _best(
    pattern: np.ndarray, track: np.ndarray, start: float, lags: int, offset_s: float
) -> tuple[float, float] | None:
    """``place``'s answer in ``track`` (band energies from ``start``), over its first ``lags`` lags."""
    best: tuple[float, float] | None = None
    for tempo in TEMPI:
        if best is not None and not OTHER_NCC <= best[1] < SURE_NCC:
            break  # placed at the query's tempo, or another recording at any
        ncc = normalized_xcorr(warp(pattern, tempo), track)[:lags]
        if ncc.size == 0:
            continue
        lags_s = start + np.arange(ncc.size) * FRAME_SECONDS
        lag = int(np.argmax(ncc - NEAR_PENALTY * np.abs(lags_s - offset_s)))
        if best is None or ncc[lag] > best[1]:
            best = float(lags_s[lag]), float(ncc[lag])
    return best


def confirms(first: tuple[float, float] | None) -> bool:
    """Whether ``place``'s answer at a result's first candidate says "the query's recording"
    (how a result below the top is checked before it is promoted: module doc, 5)."""
    return first is not None and first[1] >= MATCH_NCC


def refine(
    pattern: np.ndarray,
    path: str | os.PathLike[str],
    candidates: list[float],
    first: tuple[float, float] | None = None,
) -> float | None:
    """The offset of the same recording among ``candidates`` (best first), or None (module doc).

    ``first``: ``place``'s answer at ``candidates[0]`` when the caller has it already (a
    promoted result's check), so that region is not decoded twice.
    The answer does not depend on the slider weights that chose the candidates (a recording
    is the query's or not), so the search keeps it per query and track: a slider move
    decodes nothing unless a new track comes first.
    """
    if not candidates:
        return None
    if first is None:
        first = place(pattern, path, candidates[0])
    if first is not None and first[1] >= SURE_NCC:
        return first[0]
    if first is None or first[1] < OTHER_NCC:
        return None
    found = [p for p in (first, *place_all(pattern, path, candidates[1:CANDIDATES])) if p is not None]
    best = max(found, key=lambda p: p[1], default=None)
    return best[0] if best is not None and best[1] >= MATCH_NCC else None
