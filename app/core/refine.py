"""Placing a same-recording match to the frame: the query's band energies against the track's audio.

Window embeddings place a clip within a fraction of a window, but they blur: neighbouring
offsets score alike, a looping game track's repeats score alike, and under noise or a pitch
change the best window sequence is often another passage of the right track. When a result
is the recording the query was cut from (an editor's temp cut from a library track: the
conform case), its audio lines up with the query frame by frame, and the normalised
cross-correlation (NCC) of their log band energies (``BANDS`` bands of the mel spectrum,
one 23-ms frame per lag) shows it: measured on the real test split (supertux + extremetuxracer,
15-s excerpts), the source peaks at a median 0.88 (5th percentile 0.56, noisy and pitched
included) where other recordings stay below 0.38 in 99 % of cases.

The query's frames fall anywhere within the track's, and a half-frame slip costs the true lag
a fifth of its NCC on percussive music (a clean excerpt of a looping chiptune: 1.0 -> 0.79,
below its repeats a bar away at 0.85). So the query's pattern is taken at ``SUBFRAMES``
quarter-frame shifts (``band_patterns``), all correlated against one decode of the track:
one lines up to within an eighth of a frame. Then:

1. the window alignment's best few offsets at least ``SPACING_S`` apart
   (``alignment.best_offsets``) are the candidates, best first;
2. around the first, ``RADIUS_S`` either side, the track's audio is decoded and the NCC is
   taken at every frame lag; when it reaches ``SURE_NCC`` the result is placed there; when
   it is below ``MATCH_NCC``, the second candidate is decoded too (``check``: a looping
   track's first candidate can fall in an unrelated passage);
3. when both are below ``OTHER_NCC`` the result is another recording (other recordings:
   median 0.06) and keeps its window offset, so most searches for music not in the library
   decode two regions for the top result;
4. otherwise the other candidates, up to ``CANDIDATES``, are tried the same way and the best
   lag of all is taken when it reaches ``MATCH_NCC`` (a gross miss of the window alignment:
   noise, or a looping track's repeat of the passage, which correlates at 0.5-0.8 where the
   passage itself reaches 0.8-0.9: accepting the first match above ``MATCH_NCC`` left 5 % of
   clean excerpts more than 3 s off, trying the rest below ``SURE_NCC`` none); when the best
   is the recording but not sure (``MATCH_NCC`` to ``SURE_NCC``), up to ``MORE_CANDIDATES``;
   below ``MATCH_NCC``, the result keeps the window offset. A track no longer than
   ``SCAN_SHARE`` times the audio of the candidates after the first is scanned whole instead,
   for the same cost (``scan``): under noise the passage is sometimes none of the candidates
   (real test split, noisy: 1 in 40, a 77-s track).

5. when the top result is not the query's recording, the next ``PROMOTE_RANKS - 1`` results
   are checked (``check``: their first candidate, and the next ones, up to ``CHECKED``, for
   as long as they are unsure, between ``OTHER_NCC`` and ``MATCH_NCC``; stopping at the first
   result that ``confirms``); a confirmed one is the recording the query was cut from and
   is promoted to the top, then placed as above. Under noise the source is often second to
   fifth by its windows (real test split, noisy: first in 82 %), and its audio still says
   so; its first candidate missed the passage in 9 of 40 noisy excerpts, its second in 1
   of those.

Pitch: 16 bands of 8 mel bands each are wide against a semitone (a 6 % shift), so a pitched
query still correlates. Tempo: a retimed query (a PAL speed-up, 4 %) drifts off the track's
frames, 0.6 s over 15 s; where its own tempo correlates only in part, the pattern is also
warped to ``TEMPI`` (no extra decoding) and the best taken. Cost: one decode of
``query + 2 * RADIUS_S`` seconds per candidate tried for the top result (two for music not
in the library), plus one to ``CHECKED`` per lower result checked when the top result is
another recording (music not in the library pays the first of each, and the next for about
a quarter of them), kept per query and track
(``SearchEngine``); the query's spectra are computed once per tempo and FFT size, not per
region.
"""

from __future__ import annotations

import functools
import os
import weakref
from collections.abc import Sequence

import numpy as np

from model.audio import HOP_LENGTH, SAMPLE_RATE, AudioError, load_audio
from model.mel import mel_filters

BANDS = 16  # log-mel bands pooled 8 by 8: coarse enough for a pitch shift, fine enough to tell passages
FRAME_SECONDS = HOP_LENGTH / SAMPLE_RATE  # 23 ms: one lag step
RADIUS_FRAMES = 96  # frames searched either side of a candidate offset (2.23 s; under noise the
# window alignment's nearest candidate was 2 s off the passage; 64 frames, 1.49 s, missed it)
RADIUS_S = RADIUS_FRAMES * FRAME_SECONDS
SPACING_S = 2.97  # candidate offsets at least this far apart (alignment.best_offsets): regions overlap,
# and place_all decodes overlapping ones once
NEAR_PENALTY = 0.01  # NCC per second away from the candidate: of near-equal lags (a beat-periodic
# passage repeats every beat), the one nearest the window alignment wins; counted up to RADIUS_S.
# Small since SUBFRAMES sharpened the true peak: at 0.05 a pitched excerpt's passage (NCC 0.72)
# lost to a candidate's other passage (0.66) 1.7 s nearer the window alignment
MATCH_NCC = 0.5  # NCC at or above this: the same recording (other recordings: < 0.38 in 99 %)
SURE_NCC = 0.85  # first candidate at or above this: placed there, the rest are not tried
OTHER_NCC = 0.1  # first candidate below this: another recording, the rest are not tried
TEMPI = (1.0, 0.96, 1.04, 0.92, 1.08)  # query tempo / track tempo tried (PAL speed-ups, a retimed cut)
SUBFRAMES = 4  # query patterns at quarter-frame shifts: the track's frames fall anywhere within the
# query's, and a half-frame slip costs a clean excerpt's true lag 0.2 of NCC (1.0 -> 0.79 on a
# looping chiptune, below its repeats a bar away at 0.85); a quarter-frame grid keeps it >= 0.94
SCAN_SHARE = 1.25  # a track up to 1.25 times the audio of the candidates after the first is scanned
# whole: the same cost (77 s whole: 56 ms CPU; four 19-s regions: 58 ms), and no passage is left out
CHECKED = 3  # a result below the top is checked at up to this many candidates while they are unsure
CANDIDATES = 5  # window-alignment offsets tried (the first, then the rest on a miss)
MORE_CANDIDATES = 8  # tried at most when the first CANDIDATES find the recording (MATCH_NCC) but not
# surely the passage (SURE_NCC): under noise or a pitch change a long, repetitive track's passage
# was the window alignment's 7th-8th offset in 3 of 80 excerpts of the real test split
PROMOTE_RANKS = 5  # results checked by their audio when the top one is another recording: on the
# real test split the source's window rank, when not first, was 2nd-5th in 10 of 11 noisy or pitched
# excerpts (8th: 1); each rank checked costs music not in the library one more region


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


def band_patterns(samples: np.ndarray, subframes: int = SUBFRAMES) -> np.ndarray:
    """``(subframes, frames, BANDS)``: ``band_pattern`` of ``samples`` from each of ``subframes``
    evenly spaced shifts within the first frame (shift ``s``: ``s * HOP_LENGTH // subframes``
    samples), all cut to the same number of frames. One of them lines up with any track's frames
    to within ``HOP_LENGTH / (2 * subframes)`` samples."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    shifts = [s * HOP_LENGTH // subframes for s in range(subframes)]
    patterns = [band_pattern(samples[shift:]) for shift in shifts]
    frames = min(p.shape[0] for p in patterns)
    return np.stack([p[:frames] for p in patterns])


def _stack(pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(patterns (k, m, b), shifts_s (k,))``: a ``band_patterns`` stack, or one ``band_pattern``."""
    if pattern.ndim == 2:
        return pattern[None], np.zeros(1)
    k = pattern.shape[0]
    return pattern, np.array([s * HOP_LENGTH // k for s in range(k)]) / SAMPLE_RATE


def normalized_xcorr(query: np.ndarray, track: np.ndarray) -> np.ndarray:
    """NCC of ``query`` ``(m, b)`` with ``track[lag : lag + m]`` for every lag (``n - m + 1`` values);
    a stack of queries ``(k, m, b)`` (``band_patterns``' shifts) gives ``(k, n - m + 1)``.

    Each band's mean is removed over the compared span (the query's once, the track's per
    lag), so a level or EQ difference does not count; the products come from one FFT of the
    track (shared by a stack) and one inverse FFT per query (the bands summed before it).
    """
    query = np.asarray(query)
    stack = query if query.ndim == 3 else query[None]
    m, n = stack.shape[1], track.shape[0]
    if m == 0 or n < m:
        return np.zeros((stack.shape[0], 0)) if query.ndim == 3 else np.zeros(0)
    size = _fft_size(n, m)
    ncc = _xcorr(_query_spectrum(stack, size), m, track, np.fft.rfft(track, size, axis=0))
    return ncc if query.ndim == 3 else ncc[0]


def _fft_size(n: int, m: int) -> int:
    return 1 << int(np.ceil(np.log2(n + m)))


def _query_spectrum(stack: np.ndarray, size: int) -> np.ndarray:
    """``(k, size // 2 + 1, b)``: the FFT of each query, its bands' means removed, normalised and reversed."""
    q = stack - stack.mean(axis=1, keepdims=True)
    q /= np.linalg.norm(q, axis=(1, 2), keepdims=True) + 1e-9
    return np.fft.rfft(q[:, ::-1], size, axis=1)


def _xcorr(query_spectrum: np.ndarray, m: int, track: np.ndarray, track_spectrum: np.ndarray) -> np.ndarray:
    """``normalized_xcorr`` from the queries' and the track's spectra (``_query_spectrum``, ``rfft``)."""
    size, n = 2 * (query_spectrum.shape[1] - 1), track.shape[0]
    dots = np.fft.irfft((query_spectrum * track_spectrum).sum(axis=2), size, axis=1)[:, m - 1 : n]
    t = np.vstack([np.zeros((1, track.shape[1])), track.astype(np.float64)])
    sums, squares = np.cumsum(t, axis=0), np.cumsum(t * t, axis=0)
    s, s2 = sums[m:] - sums[:-m], squares[m:] - squares[:-m]
    return dots / np.sqrt(np.maximum((s2 - s * s / m).sum(axis=1), 1e-9))


# A query's warped spectra, kept while its pattern lives: a search places it in several regions
# of several tracks, of the same length and so the same FFT size (the query's FFTs were 4/5 of
# the placement's FFT time, a third of its CPU time).
_SPECTRA: dict[int, dict[tuple[float, int], np.ndarray]] = {}


def _warped_spectrum(pattern: np.ndarray, stack: np.ndarray, tempo: float, size: int) -> np.ndarray:
    """``_query_spectrum(warp(stack, tempo), size)``, computed once per ``pattern`` (which ``stack`` views)."""
    memo = _SPECTRA.get(id(pattern))
    if memo is None:
        memo = _SPECTRA[id(pattern)] = {}
        weakref.finalize(pattern, _SPECTRA.pop, id(pattern), None)
    spectrum = memo.get((tempo, size))
    if spectrum is None:
        spectrum = memo[(tempo, size)] = _query_spectrum(warp(stack, tempo), size)
    return spectrum


def warp(pattern: np.ndarray, tempo: float) -> np.ndarray:
    """``pattern`` ``(m, b)`` (or a stack ``(k, m, b)``) on the track's time axis when the query
    plays ``tempo`` times faster (a PAL speed-up: 1.04): query frame ``i`` falls on track frame
    ``i * tempo`` (linear interpolation between frames)."""
    if tempo == 1.0:
        return pattern
    m = pattern.shape[-2]
    at = np.minimum(np.arange(int(m * tempo)) / tempo, m - 1)
    below = np.minimum(at.astype(np.int64), m - 2) if m > 1 else np.zeros(at.size, np.int64)
    frac = (at - below)[:, None]
    return pattern[..., below, :] * (1 - frac) + pattern[..., np.minimum(below + 1, m - 1), :] * frac


def _region(pattern: np.ndarray, offset_s: float) -> tuple[float, int, float]:
    """``(start_s, lags, end_s)``: the audio ``place`` needs around ``offset_s`` and its lag count."""
    # Whole frames before the candidate, so that the candidate itself is one of the lags.
    start = offset_s - min(RADIUS_FRAMES, int(offset_s / FRAME_SECONDS)) * FRAME_SECONDS
    lags = int(round((offset_s - start) / FRAME_SECONDS)) + RADIUS_FRAMES + 1
    return start, lags, start + (int(pattern.shape[-2] * max(TEMPI)) + lags + 1) * FRAME_SECONDS


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


def scan(
    pattern: np.ndarray, path: str | os.PathLike[str], near: list[float]
) -> tuple[float, float] | None:
    """Best ``(offset_s, ncc)`` of ``pattern`` at every lag of ``path``'s whole audio (of near-equal
    lags, those within ``RADIUS_S`` of an offset in ``near`` are favoured as in ``place``); None
    when the file cannot be read or is shorter than the query."""
    try:
        track = band_pattern(load_audio(path))
    except (AudioError, OSError):
        return None
    return _best(pattern, track, 0.0, track.shape[0], near)


def _best(
    pattern: np.ndarray, track: np.ndarray, start: float, lags: int, near: float | list[float]
) -> tuple[float, float] | None:
    """``place``'s answer in ``track`` (band energies from ``start``), over its first ``lags`` lags,
    near ``near`` (one offset or several: the penalty counts the distance to the nearest, up to
    ``RADIUS_S``)."""
    near_s = np.atleast_1d(np.asarray(near, dtype=np.float64))
    best: tuple[float, float] | None = None
    best_score = -np.inf
    patterns, shifts_s = _stack(pattern)
    track_spectra: dict[int, np.ndarray] = {}
    for tempo in TEMPI:
        if best is not None and not OTHER_NCC <= best[1] < SURE_NCC:
            break  # placed at the query's tempo, or another recording at any
        m = int(patterns.shape[1] * tempo) if tempo != 1.0 else patterns.shape[1]
        if m == 0 or track.shape[0] < m:
            continue
        size = _fft_size(track.shape[0], m)
        if size not in track_spectra:
            track_spectra[size] = np.fft.rfft(track, size, axis=0)
        spectrum = _warped_spectrum(pattern, patterns, tempo, size)
        ncc = _xcorr(spectrum, m, track, track_spectra[size])[:, :lags]
        # a shifted pattern at a lag: the query starts its shift (in the track's time, x tempo) earlier
        starts = start + np.arange(ncc.shape[1]) * FRAME_SECONDS - shifts_s[:, None] * tempo
        away = np.abs(starts[..., None] - near_s).min(axis=-1)
        scores = ncc - NEAR_PENALTY * np.minimum(away, RADIUS_S)
        s, lag = np.unravel_index(int(np.argmax(scores)), scores.shape)
        if scores[s, lag] > best_score:
            best, best_score = (max(0.0, float(starts[s, lag])), float(ncc[s, lag])), float(scores[s, lag])
    return best


def check(
    pattern: np.ndarray, path: str | os.PathLike[str], candidates: list[float], *, top: bool = False,
    known: Sequence[tuple[float, float] | None] = (),
) -> list[tuple[float, float] | None]:
    """``place``'s answers at a result's first candidates, one at a time until one is the
    recording (``MATCH_NCC``): for the top result the first two; for a result below it (module
    doc, 5) the next for as long as the last is unsure (from ``OTHER_NCC`` to ``MATCH_NCC``: the
    recording's sound in another passage, or another recording that sounds alike), up to
    ``CHECKED`` candidates. On the real test split (noisy, 3 x 40 excerpts) the source below
    the top was unsure at its first candidates and sure at its 2nd-3rd in 4 excerpts; a looping
    vocal track's first candidate fell below ``OTHER_NCC`` in another passage twice.

    ``known``: the answers of an earlier check at the first candidates (a result checked below
    the top that is the top now); this check goes on from them."""
    answers = list(known)
    for n, offset in enumerate(candidates[: 2 if top else CHECKED]):
        if n < len(answers):
            continue
        last = answers[-1] if answers else None
        if n and (last is None or last[1] >= MATCH_NCC or (not top and last[1] < OTHER_NCC)):
            break
        answers.append(place(pattern, path, offset))
    return answers


def confirms(known: list[tuple[float, float] | None]) -> bool:
    """Whether ``check``'s answers say "the query's recording" (how a result below the top is
    checked before it is promoted: module doc, 5)."""
    return any(p is not None and p[1] >= MATCH_NCC for p in known)


def refine(
    pattern: np.ndarray,
    path: str | os.PathLike[str],
    candidates: list[float],
    known: list[tuple[float, float] | None] | None = None,
    duration_s: float | None = None,
) -> float | None:
    """The offset of the same recording among ``candidates`` (best first), or None (module doc).

    ``known``: ``place``'s answers at the first candidates when the caller has them already
    (the result's ``check``, as the top or before it was promoted), so those regions are not
    decoded twice. ``duration_s``:
    the track's length, when known; a track no longer than ``SCAN_SHARE`` times the audio of
    the candidates after the first is scanned whole instead (module doc, 4).
    The answer does not depend on the slider weights that chose the candidates (a recording
    is the query's or not), so the search keeps it per query and track: a slider move
    decodes nothing unless a new track comes first.
    """
    if not candidates:
        return None
    known = list(known or [place(pattern, path, candidates[0])])
    sure = [p for p in known if p is not None and p[1] >= SURE_NCC]
    if sure:
        return sure[0][0]
    if max((p[1] for p in known if p is not None), default=-1.0) < OTHER_NCC:
        return None
    region_s = sum(end - start for start, _, end in (_region(pattern, o) for o in candidates[1:CANDIDATES]))
    if duration_s is not None and 0 < duration_s <= SCAN_SHARE * region_s:
        whole = scan(pattern, path, candidates[:CANDIDATES])
        return whole[0] if whole is not None and whole[1] >= MATCH_NCC else None
    found = [p for p in (*known, *place_all(pattern, path, candidates[len(known) : CANDIDATES])) if p is not None]
    best = max(found, key=lambda p: p[1], default=None)
    if best is not None and MATCH_NCC <= best[1] < SURE_NCC and len(candidates) > CANDIDATES:
        more = [p for p in place_all(pattern, path, candidates[CANDIDATES:MORE_CANDIDATES]) if p is not None]
        best = max([best, *more], key=lambda p: p[1])
    return best[0] if best is not None and best[1] >= MATCH_NCC else None
