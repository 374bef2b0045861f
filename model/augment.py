"""Audio augmentations: for label-free (contrastive) training noise, time-stretch and pitch
(``Augment``); for any training, a random production chain (``Production``, at the end).

Applied to the waveform before the front end, as in the label-free reference (noise from a
normal distribution, time-stretch up to ±20 %, pitch -2..+2 semitones). They run in the
data-loader workers, so they must be cheap: a small vectorised numpy phase vocoder (one
rfft/irfft pass) does the stretch, and pitch reuses it: stretch by the pitch factor, then
resample by linear interpolation, so tempo and pitch change independently with one vocoder
pass. Measured: 15 ms per 3.7-s excerpt for all three (2-core x86 CPU, load 0.4), i.e.
~1 s of worker time per 64-excerpt batch, well under the ~2 s the network needs for it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.constants import SAMPLE_RATE

VOCODER_FFT = 1024
VOCODER_HOP = 256


def time_stretch(wave: np.ndarray, rate: float) -> np.ndarray:
    """Phase-vocoder stretch: ``rate`` > 1 is faster (output ~len/rate samples), pitch kept."""
    if abs(rate - 1.0) < 1e-6:
        return wave.astype(np.float32, copy=True)
    window = np.hanning(VOCODER_FFT).astype(np.float32)
    padded = np.pad(wave.astype(np.float32), (VOCODER_FFT // 2, VOCODER_FFT // 2 + VOCODER_FFT))
    n_frames = 1 + (len(padded) - VOCODER_FFT) // VOCODER_HOP
    frames = np.lib.stride_tricks.sliding_window_view(padded, VOCODER_FFT)[::VOCODER_HOP][:n_frames]
    spec = np.fft.rfft(frames * window, axis=1)
    steps = np.arange(0, n_frames - 1, rate)
    base = steps.astype(int)
    alpha = (steps - base)[:, None]
    mag = (1 - alpha) * np.abs(spec[base]) + alpha * np.abs(spec[base + 1])
    advance = 2 * np.pi * VOCODER_HOP * np.arange(spec.shape[1]) / VOCODER_FFT
    dphase = np.angle(spec[base + 1]) - np.angle(spec[base]) - advance
    dphase -= 2 * np.pi * np.round(dphase / (2 * np.pi))
    phase = np.angle(spec[0]) + np.cumsum(np.vstack([np.zeros_like(advance), (dphase + advance)[:-1]]), axis=0)
    out_frames = np.fft.irfft(mag * np.exp(1j * phase), n=VOCODER_FFT, axis=1).astype(np.float32) * window
    length = VOCODER_HOP * (len(steps) - 1) + VOCODER_FFT
    out = np.zeros(length, np.float32)
    norm = np.zeros(length, np.float32)
    stride = VOCODER_FFT // VOCODER_HOP  # frames k, k+stride, ... tile without overlapping
    for k in range(stride):
        chunk = out_frames[k::stride]
        start = k * VOCODER_HOP
        out[start : start + chunk.size] += chunk.ravel()
        norm[start : start + chunk.size] += np.tile(window**2, len(chunk))
    out /= np.maximum(norm, 1e-3)
    expected = int(round(len(wave) / rate))
    return out[VOCODER_FFT // 2 : VOCODER_FFT // 2 + expected]


def resample_linear(wave: np.ndarray, factor: float) -> np.ndarray:
    """Play ``factor`` times faster (pitch up by ``factor``) by linear interpolation."""
    positions = np.arange(0, len(wave) - 1, factor)
    return np.interp(positions, np.arange(len(wave)), wave).astype(np.float32)


def pitch_shift(wave: np.ndarray, semitones: float, rate: float = 1.0) -> np.ndarray:
    """Shift pitch by ``semitones`` and tempo by ``rate`` with a single vocoder pass."""
    factor = 2.0 ** (semitones / 12.0)
    return resample_linear(time_stretch(wave, rate / factor), factor)


def add_noise(wave: np.ndarray, snr_db: float, rng: np.random.Generator) -> np.ndarray:
    rms = float(np.sqrt(np.mean(wave**2))) + 1e-6
    noise = rng.standard_normal(len(wave)).astype(np.float32)
    return wave + noise * rms * 10 ** (-snr_db / 20)


@dataclass(frozen=True)
class Augment:
    """Random augmentation of one excerpt; picklable so it runs in data-loader workers.

    Give it an excerpt ``max_rate`` times longer than the output needs: a faster stretch
    consumes more input.
    """

    max_stretch: float = 0.2  # rate drawn from [1 - x, 1 + x]
    max_semitones: int = 2  # pitch drawn from {-x, ..., +x}
    noise_probability: float = 0.8
    snr_db: tuple[float, float] = (10.0, 40.0)

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        rate = float(rng.uniform(1 - self.max_stretch, 1 + self.max_stretch))
        semitones = int(rng.integers(-self.max_semitones, self.max_semitones + 1))
        out = pitch_shift(wave, semitones, rate)
        if rng.random() < self.noise_probability:
            out = add_noise(out, float(rng.uniform(*self.snr_db)), rng)
        return out


# --------------------------------------------------------------------------- production
# What separates a library's recordings from our renders is mostly how they were produced:
# room, EQ, dynamics, level, codec. ``Production`` draws a random chain of these so that the
# blocks learn the music rather than one generator's sound. All of it is FFT-domain or
# vectorised numpy: 29 ms per 3.7-s excerpt on average (measured on this 2-core machine at load
# 11; the pitch shift's vocoder, 55 ms, and the reverb, 17 ms, dominate when they run).

def _spectral_filter(wave: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Apply a zero-phase magnitude response ``gains`` (len(rfft bins)) to ``wave``."""
    return np.fft.irfft(np.fft.rfft(wave) * gains, n=len(wave)).astype(np.float32)


def tilt_eq(wave: np.ndarray, low_db: float, high_db: float, corner_hz: float, rate: int) -> np.ndarray:
    """Low and high shelves around ``corner_hz`` (a smooth tilt, like a mastering EQ)."""
    freqs = np.fft.rfftfreq(len(wave), 1.0 / rate)
    blend = 1.0 / (1.0 + (corner_hz / np.maximum(freqs, 1.0)) ** 2)  # 0 at DC, 1 far above
    gain_db = low_db * (1.0 - blend) + high_db * blend
    return _spectral_filter(wave, 10.0 ** (gain_db / 20.0))


def lowpass(wave: np.ndarray, cutoff_hz: float, rate: int) -> np.ndarray:
    """A steep low-pass, as low-bitrate codecs band-limit their input."""
    freqs = np.fft.rfftfreq(len(wave), 1.0 / rate)
    return _spectral_filter(wave, 1.0 / np.sqrt(1.0 + (freqs / cutoff_hz) ** 16))


def reverb(wave: np.ndarray, seconds: float, wet: float, rate: int, rng: np.random.Generator) -> np.ndarray:
    """Convolve with exponentially decaying noise (RT60 ``seconds``), mixed ``wet`` into the dry."""
    n = int(seconds * rate)
    ir = rng.standard_normal(n).astype(np.float32) * np.exp(-6.9 * np.arange(n) / n).astype(np.float32)
    ir /= np.sqrt(np.sum(ir**2)) + 1e-9
    size = 1 << (len(wave) + n - 1).bit_length()  # a power of two: FFTs of awkward sizes are 50x slower
    wet_signal = np.fft.irfft(np.fft.rfft(wave, size) * np.fft.rfft(ir, size), n=size)[: len(wave)]
    return ((1.0 - wet) * wave + wet * wet_signal).astype(np.float32)


def compress(wave: np.ndarray, threshold_db: float, ratio: float, rate: int) -> np.ndarray:
    """A feed-forward compressor on a 10-ms RMS envelope, with make-up gain to the input RMS."""
    window = max(1, int(0.01 * rate))
    power = np.convolve(wave**2, np.ones(window, np.float32) / window, mode="same")
    level_db = 10.0 * np.log10(power + 1e-10)
    peak_db = 10.0 * np.log10(float(np.max(power)) + 1e-10)
    over = np.maximum(level_db - (peak_db + threshold_db), 0.0)
    out = wave * 10.0 ** (-over * (1.0 - 1.0 / ratio) / 20.0)
    return (out * (np.sqrt(np.mean(wave**2)) / (np.sqrt(np.mean(out**2)) + 1e-9))).astype(np.float32)


@dataclass(frozen=True)
class Production:
    """A random production chain for one excerpt (length kept); picklable for loader workers.

    Each stage runs with its probability: a pitch shift of ±1 semitone (tempo kept: a search
    must find a song transposed, and tempo is a dimension of its own, so no time-stretch
    here), reverb (RT60 0.3-2 s), tilt EQ (±6 dB shelves), compression (2:1-6:1), codec-like
    low-pass (5-10 kHz), noise (25-45 dB SNR), and a level change (±9 dB, which the mel front
    end's log compression does not normalise away).
    """

    rate: int = SAMPLE_RATE
    p_reverb: float = 0.4
    p_eq: float = 0.6
    p_compress: float = 0.4
    p_lowpass: float = 0.3
    p_noise: float = 0.3
    p_pitch: float = 0.3

    def __call__(self, wave: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = wave.astype(np.float32, copy=True)
        if rng.random() < self.p_pitch:
            shifted = pitch_shift(out, float(rng.choice((-1.0, 1.0))))
            out = np.pad(shifted, (0, max(0, len(out) - len(shifted))))[: len(out)]
        if rng.random() < self.p_reverb:
            out = reverb(out, float(rng.uniform(0.3, 2.0)), float(rng.uniform(0.1, 0.5)), self.rate, rng)
        if rng.random() < self.p_eq:
            out = tilt_eq(out, float(rng.uniform(-6, 6)), float(rng.uniform(-6, 6)),
                          float(rng.uniform(200, 3000)), self.rate)
        if rng.random() < self.p_compress:
            out = compress(out, float(rng.uniform(-20, -6)), float(rng.uniform(2, 6)), self.rate)
        if rng.random() < self.p_lowpass:
            out = lowpass(out, float(rng.uniform(5000, 10000)), self.rate)
        if rng.random() < self.p_noise:
            out = add_noise(out, float(rng.uniform(25, 45)), rng)
        out *= 10.0 ** (float(rng.uniform(-9, 9)) / 20.0)
        return np.clip(out, -1.0, 1.0)
