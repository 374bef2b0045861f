"""Tempo (BPM) of a track from its audio: autocorrelation of the mel spectral flux.

The same onset envelope the network's tempo branch reads (half-wave rectified frame
difference of the log mel spectrogram, 43 frames per second), over the whole track instead
of one window: its autocorrelation peaks at the beat period. Each candidate lag's score adds
the autocorrelation at twice and half the lag (a beat period repeats at the bar, and its
subdivisions), and a broad log-normal preference around 120 BPM breaks the octave ties
the way listeners do (librosa's tempo estimator uses the same prior). Parabolic
interpolation around the best lag gives fractions of a frame.

Numpy only (it runs in the indexer's decode workers, which never load torch).
"""

from __future__ import annotations

import functools

import numpy as np

from model import fft
from model.audio import HOP_LENGTH, N_FFT, N_MELS, SAMPLE_RATE
from model.mel import FilterGroups, apply_filters, filter_groups, mel_filters

assert N_FFT == 2 * HOP_LENGTH  # onset_envelope takes every other bin of the mel filters

MIN_BPM, MAX_BPM = 50.0, 220.0  # range of answers
PRIOR_BPM, PRIOR_OCTAVES = 120.0, 1.0  # log-normal preference: centre and width
MIN_SECONDS = 6.0  # shorter audio has too few beats to say
MIN_PEAK = 0.05  # normalised autocorrelation below this: no clear beat, no answer
FRAME_RATE = SAMPLE_RATE / HOP_LENGTH  # onset envelope frames per second (43.07)
SMOOTHING = np.array([1, 4, 6, 4, 1], np.float32) / 16
CHUNK_FRAMES = 256  # frames transformed at a time in log_mel_frames


def log_mel_frames(frames: np.ndarray) -> np.ndarray:
    """``(n, HOP_LENGTH * f)`` non-overlapping frames at ``f * SAMPLE_RATE`` (f = 1 or 2) ->
    ``(n, N_MELS)`` ``log10(1 + 10 * mel)``.

    One hop per frame (half the network's FFT size, every other mel filter's bin): a quarter
    of the network front end's work, for a tempo estimate that needs the frame rate, not the
    frequency detail. At twice the rate the frame is twice as long, so its bins have the same
    spacing; the ones above 11 kHz are left out. Computed ``CHUNK_FRAMES`` at a time (the
    spectra stay in the cache) with the filters' non-zero bands only (model.mel.apply_filters).
    """
    mel = np.empty((frames.shape[0], N_MELS), np.float32)
    for start in range(0, frames.shape[0], CHUNK_FRAMES):
        chunk = frames[start : start + CHUNK_FRAMES]
        spectrum = fft.rfft(chunk)[:, : HOP_LENGTH // 2 + 1]  # no taper: edge beats count
        power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32, copy=False)
        apply_filters(power, _half_filters(), out=mel[start : start + CHUNK_FRAMES])
    mel *= 10.0
    mel += 1.0
    return np.log10(mel, out=mel)


@functools.cache
def _half_filters() -> FilterGroups:
    """Every other bin of the mel filters, grouped (made once, not per block)."""
    return filter_groups(mel_filters()[:, ::2])


def onset_envelope(samples: np.ndarray) -> np.ndarray:
    """Spectral flux of the log mel spectrogram, one value per hop (mean over bands)."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    n = samples.size // HOP_LENGTH
    mel = log_mel_frames(samples[: n * HOP_LENGTH].reshape(n, HOP_LENGTH))
    return np.maximum(np.diff(mel, axis=0), 0.0).mean(axis=1)


def bpm_from_envelope(env: np.ndarray) -> float | None:
    """Beats per minute from an onset envelope at ``FRAME_RATE``; None when no beat is clear."""
    if env.size < MIN_SECONDS * FRAME_RATE:
        return None
    # A little smoothing (binomial, ~1 frame) so a beat period that is not a whole number of
    # frames (120 BPM = 21.5) is not beaten by a slower one that happens to be.
    env = np.convolve(env - env.mean(), SMOOTHING, mode="same")
    if not np.any(env):
        return None
    longest = int(FRAME_RATE * 60 / MIN_BPM)
    ac = autocorrelation(env, min(env.size, 2 * longest + 1))  # the lags read below
    ac = ac / ac[0]
    lags = np.arange(int(FRAME_RATE * 60 / MAX_BPM), longest + 1)
    lags = lags[2 * lags < ac.size]
    if lags.size == 0:
        return None
    half = np.interp(lags / 2, np.arange(ac.size), ac)
    score = ac[lags] + 0.5 * ac[2 * lags] + 0.5 * half
    bpm = 60 * FRAME_RATE / lags
    score = score * np.exp(-0.5 * (np.log2(bpm / PRIOR_BPM) / PRIOR_OCTAVES) ** 2)
    i = int(np.argmax(score))
    if ac[lags[i]] < MIN_PEAK:
        return None
    lag = float(lags[i])
    if 0 < i < lags.size - 1:  # parabolic interpolation on the autocorrelation
        a, b, c = ac[lags[i] - 1], ac[lags[i]], ac[lags[i] + 1]
        if a - 2 * b + c < 0:
            lag += 0.5 * (a - c) / (a - 2 * b + c)
    return float(60 * FRAME_RATE / lag)


def autocorrelation(env: np.ndarray, lags: int) -> np.ndarray:
    """``sum(env[t] * env[t + k])`` for ``k`` in ``0 .. lags - 1``, by FFT.

    Zero-padded to a power of two past ``env.size + lags``, which keeps those lags exact (no
    wrap-around) and the transform small and fast. Padding to ``2 * env.size``, which gives
    every lag, made numpy fall back to Bluestein's algorithm on lengths with a large prime
    factor: 83 MB more at the end of a 2-hour track's decoding, for ~100 lags used."""
    size = 1 << (env.size + lags).bit_length()
    spectrum = np.fft.rfft(env, n=size)
    return np.fft.irfft(spectrum.real**2 + spectrum.imag**2, n=size)[:lags]


def estimate_bpm(samples: np.ndarray) -> float | None:
    """Beats per minute of mono ``SAMPLE_RATE`` samples; None when no beat is clear."""
    return bpm_from_envelope(onset_envelope(samples))
