"""Production augmentations: each stage does what it says, the chain keeps length and range."""

from __future__ import annotations

import numpy as np
import pytest

from model.augment import Production, compress, lowpass, reverb, tilt_eq

RATE = 22050


def _band_energy(wave: np.ndarray, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1 / RATE)
    return float(spectrum[(freqs >= lo) & (freqs < hi)].sum())


def test_lowpass_and_tilt_change_the_spectrum_where_they_should() -> None:
    noise = np.random.default_rng(0).standard_normal(RATE).astype(np.float32) * 0.1
    cut = lowpass(noise, 5000, RATE)
    assert _band_energy(cut, 8000, 11025) < 0.01 * _band_energy(noise, 8000, 11025)
    assert _band_energy(cut, 100, 3000) == pytest.approx(_band_energy(noise, 100, 3000), rel=0.05)
    bright = tilt_eq(noise, -6, 6, 1000, RATE)
    assert _band_energy(bright, 5000, 11025) > 3 * _band_energy(noise, 5000, 11025)
    assert _band_energy(bright, 20, 200) < 0.5 * _band_energy(noise, 20, 200)


def test_reverb_spreads_an_impulse_and_compression_lowers_the_crest() -> None:
    click = np.zeros(RATE, np.float32)
    click[100] = 1.0
    tail = reverb(click, 1.0, 0.5, RATE, np.random.default_rng(1))
    assert np.abs(tail[RATE // 4 :]).max() > 1e-4  # energy long after the click
    t = np.arange(RATE) / RATE
    bursts = (np.sin(2 * np.pi * 220 * t) * np.where(t % 0.5 < 0.1, 1.0, 0.05)).astype(np.float32)
    squashed = compress(bursts, -20, 6, RATE)

    def loud_to_quiet_db(x: np.ndarray) -> float:
        return float(20 * np.log10(np.abs(x[:2000]).max() / np.abs(x[5000:10000]).max()))

    assert loud_to_quiet_db(bursts) == pytest.approx(26.0, abs=0.1)
    assert loud_to_quiet_db(squashed) < 26.0 - 10.0  # 6:1 above -20 dB: >10 dB less range
    assert np.sqrt(np.mean(squashed**2)) == pytest.approx(np.sqrt(np.mean(bursts**2)), rel=0.01)


def test_chain_keeps_length_and_range_and_is_reproducible() -> None:
    wave = (0.3 * np.sin(2 * np.pi * 440 * np.arange(70000) / RATE)).astype(np.float32)
    chain = Production()
    a = chain(wave, np.random.default_rng(5))
    b = chain(wave, np.random.default_rng(5))
    assert a.shape == wave.shape and a.dtype == np.float32
    assert np.all(np.isfinite(a)) and np.abs(a).max() <= 1.0
    np.testing.assert_array_equal(a, b)
    outputs = [chain(wave, np.random.default_rng(s)) for s in range(6)]
    assert len({round(float(np.sqrt(np.mean(o**2))), 4) for o in outputs}) > 1  # the chain varies
