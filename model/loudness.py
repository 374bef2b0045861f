"""Integrated loudness (ITU-R BS.1770-4, gated), measured on the decoded 22 050 Hz mono signal.

Used to store each track's loudness at index time and to play query and results at the same
level. The K-weighting (pre-filter shelf + RLB high-pass, the RBJ biquads pyloudnorm uses) is
applied in the frequency domain, per 100-ms segment: the mean square of a 400-ms gating block
(75 % overlap) is then the mean of four segment powers, so one batched FFT over the track
measures it (~20 ms for 3 minutes). Treating segments separately ignores the filters' memory
across 100 ms, which only low bass below ~40 Hz notices.

Deviations from a broadcast meter, on purpose: the signal is the decoder's mono mix (a
channel average) at 22 050 Hz, so a correlated stereo track reads up to 3 LU lower than
BS.1770's channel sum and content above 11 kHz is not counted. Every track and query is
measured the same way, which is what level matching needs.
"""

from __future__ import annotations

import functools

import numpy as np

from model import fft
from model.audio import SAMPLE_RATE

SEGMENT_SECONDS = 0.1  # 4 segments = one 400-ms gating block, hop 100 ms (75 % overlap)
BLOCK_SEGMENTS = 4
ABSOLUTE_GATE_LUFS = -70.0
RELATIVE_GATE_LU = -10.0
CHUNK_SEGMENTS = 64  # segments transformed at a time in segment_powers
OFFSET_DB = -0.691  # BS.1770's constant: a 1-kHz full-scale sine in one channel reads -3.01


def _biquad_response(b: np.ndarray, a: np.ndarray, freqs: np.ndarray, rate: float) -> np.ndarray:
    z = np.exp(-2j * np.pi * freqs / rate)
    return np.abs((b[0] + b[1] * z + b[2] * z**2) / (a[0] + a[1] * z + a[2] * z**2)) ** 2


def k_weighting_power(freqs: np.ndarray, rate: float = SAMPLE_RATE) -> np.ndarray:
    """``|H(f)|^2`` of BS.1770's K-weighting at ``freqs`` (Hz) for sample rate ``rate``."""
    # Stage 1: high shelf +4 dB above ~1.5 kHz (the head's acoustic effect).
    gain, q, fc = 4.0, 1 / np.sqrt(2.0), 1500.0
    big_a = 10 ** (gain / 40)
    w0 = 2 * np.pi * fc / rate
    alpha, cos = np.sin(w0) / (2 * q), np.cos(w0)
    shelf_b = big_a * np.array([
        (big_a + 1) + (big_a - 1) * cos + 2 * np.sqrt(big_a) * alpha,
        -2 * ((big_a - 1) + (big_a + 1) * cos),
        (big_a + 1) + (big_a - 1) * cos - 2 * np.sqrt(big_a) * alpha,
    ])
    shelf_a = np.array([
        (big_a + 1) - (big_a - 1) * cos + 2 * np.sqrt(big_a) * alpha,
        2 * ((big_a - 1) - (big_a + 1) * cos),
        (big_a + 1) - (big_a - 1) * cos - 2 * np.sqrt(big_a) * alpha,
    ])
    # Stage 2: the RLB high-pass at 38 Hz.
    q, fc = 0.5, 38.0
    w0 = 2 * np.pi * fc / rate
    alpha, cos = np.sin(w0) / (2 * q), np.cos(w0)
    hp_b = np.array([(1 + cos) / 2, -(1 + cos), (1 + cos) / 2])
    hp_a = np.array([1 + alpha, -2 * cos, 1 - alpha])
    return _biquad_response(shelf_b, shelf_a, freqs, rate) * _biquad_response(hp_b, hp_a, freqs, rate)


@functools.cache
def _power_weights(seg: int, rate: int) -> np.ndarray:
    """K-weighting per one-sided bin, scaled so that ``|X|^2 @ weights`` is a mean square.

    float32, as the spectrum is: a float64 vector made numpy upcast every segment's power
    spectrum (a tenth of the meter's CPU in the indexer's decoders)."""
    weight = k_weighting_power(np.fft.rfftfreq(seg, 1.0 / rate), rate)
    weight[1 : (seg + 1) // 2] *= 2  # one-sided spectrum: count the negative frequencies
    # Parseval: sum(x^2) = sum_k |X_k|^2 / seg over the full spectrum.
    weight = (weight / seg / seg).astype(np.float32)
    weight.setflags(write=False)
    return weight


def segment_powers(segments: np.ndarray, rate: int = SAMPLE_RATE) -> np.ndarray:
    """Mean square of the K-weighted signal in each row of ``(n, segment samples)``.

    ``CHUNK_SEGMENTS`` rows at a time, so that their spectra stay in the cache (15-20 % less
    CPU than one transform of a decoder piece's 475 segments)."""
    segments = np.asarray(segments, dtype=np.float32)
    weights = _power_weights(segments.shape[1], rate)
    power = np.empty(segments.shape[0], np.float64)
    for start in range(0, segments.shape[0], CHUNK_SEGMENTS):
        spectrum = fft.rfft(segments[start : start + CHUNK_SEGMENTS])
        power[start : start + CHUNK_SEGMENTS] = (spectrum.real**2 + spectrum.imag**2) @ weights
    return power


def segment_samples(rate: int = SAMPLE_RATE) -> int:
    return int(round(SEGMENT_SECONDS * rate))


def loudness_from_powers(powers: np.ndarray) -> float | None:
    """Gated integrated loudness (LUFS) from consecutive 100-ms segment powers; None if silent."""
    if powers.size < BLOCK_SEGMENTS:
        return None
    z = np.lib.stride_tricks.sliding_window_view(powers, BLOCK_SEGMENTS).mean(axis=1)
    with np.errstate(divide="ignore"):
        levels = OFFSET_DB + 10 * np.log10(z)
    z = z[levels > ABSOLUTE_GATE_LUFS]
    if z.size == 0:
        return None
    relative_gate = OFFSET_DB + 10 * np.log10(z.mean()) + RELATIVE_GATE_LU
    z = z[OFFSET_DB + 10 * np.log10(z) > relative_gate]
    return float(OFFSET_DB + 10 * np.log10(z.mean()))


def integrated_loudness(samples: np.ndarray, rate: int = SAMPLE_RATE) -> float | None:
    """Gated integrated loudness in LUFS; None for silence or audio shorter than 400 ms."""
    samples = np.asarray(samples, dtype=np.float32).reshape(-1)
    seg = segment_samples(rate)
    n = samples.size // seg
    return loudness_from_powers(segment_powers(samples[: n * seg].reshape(n, seg), rate))
