"""BPM and integrated loudness measured from the audio (model.bpm, model.loudness, model.measure)."""

from __future__ import annotations

import numpy as np
import pytest

from model.audio import SAMPLE_RATE
from model.bpm import autocorrelation, estimate_bpm
from model.loudness import integrated_loudness
from model.measure import TrackMeter, measure
from tests.synth_audio import clicks, music_like


def _sine(freq: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_loudness_of_a_1k_sine_is_bs1770s_reference() -> None:
    # BS.1770: a full-scale 1-kHz sine in one channel reads -3.01 LKFS.
    assert integrated_loudness(_sine(1000, 5, 1.0)) == pytest.approx(-3.01, abs=0.1)
    assert integrated_loudness(_sine(1000, 5, 0.1)) == pytest.approx(-23.01, abs=0.1)


def test_loudness_gates_silence_and_weights_frequencies() -> None:
    tone = _sine(1000, 10, 0.1)
    with_silence = np.concatenate([tone, np.zeros(10 * SAMPLE_RATE, np.float32)])
    assert integrated_loudness(with_silence) == pytest.approx(integrated_loudness(tone), abs=0.2)
    assert integrated_loudness(np.zeros(SAMPLE_RATE * 3, np.float32)) is None
    # K-weighting: 30 Hz is cut by the high-pass, 4 kHz lifted by the shelf (same amplitude).
    assert integrated_loudness(_sine(30, 5, 0.1)) < integrated_loudness(tone) - 1.0
    assert integrated_loudness(_sine(4000, 5, 0.1)) > integrated_loudness(tone) + 2.0


@pytest.mark.parametrize("bpm", [84.0, 120.0, 150.0])
def test_bpm_of_a_click_track_up_to_an_octave(bpm: float) -> None:
    """Within 2 % of the tempo or its double/half (a bare click has no bar to tell them apart)."""
    estimate = estimate_bpm(clicks(bpm, 20.0, sr=SAMPLE_RATE))
    assert estimate is not None
    assert min(abs(estimate * f - bpm) / bpm for f in (1.0, 2.0, 0.5)) < 0.02


def test_bpm_needs_a_beat_and_enough_audio() -> None:
    assert estimate_bpm(np.zeros(20 * SAMPLE_RATE, np.float32)) is None
    assert estimate_bpm(clicks(120.0, 3.0, sr=SAMPLE_RATE)) is None


def test_streaming_meter_equals_the_whole_track() -> None:
    samples = music_like(30.0, seed=3, sr=SAMPLE_RATE, bpm=100.0)
    meter = TrackMeter()
    for start in range(0, samples.size, 12345):  # blocks that cut frames and segments
        meter.update(samples[start : start + 12345])
    whole_bpm, whole_lufs = measure(samples)
    assert meter.bpm() == pytest.approx(whole_bpm, rel=1e-4)
    assert meter.loudness_lufs() == pytest.approx(whole_lufs, abs=1e-3)
    assert whole_bpm == pytest.approx(100.0, rel=0.03) or whole_bpm == pytest.approx(200.0, rel=0.03)


def test_meter_at_44k_agrees_with_22k() -> None:
    """The indexer feeds 44.1-kHz sources at their own rate: the same BPM and loudness."""
    import soxr

    samples = music_like(30.0, seed=4, sr=SAMPLE_RATE, bpm=110.0)
    high = soxr.resample(samples, SAMPLE_RATE, 2 * SAMPLE_RATE).astype(np.float32)
    meter = TrackMeter(2 * SAMPLE_RATE)
    meter.update(high)
    bpm, lufs = measure(samples)
    assert meter.bpm() == pytest.approx(bpm, rel=0.02)
    assert meter.loudness_lufs() == pytest.approx(lufs, abs=0.3)
    with pytest.raises(ValueError, match="48000"):
        TrackMeter(48000)


@pytest.mark.parametrize("frames", [258, 4097, 62003, 310015])  # 310015: a 2-hour track's envelope
def test_autocorrelation_is_exact_at_the_lags_asked_for(frames: int) -> None:
    """BPM reads ~100 lags: they come from a small power-of-two transform, and must equal the
    linear (not circular) autocorrelation."""
    env = np.random.default_rng(frames).random(frames).astype(np.float32) - 0.5
    lags = 103
    expected = [np.dot(env[: frames - k].astype(np.float64), env[k:]) for k in range(lags)]
    np.testing.assert_allclose(autocorrelation(env, lags), expected, atol=1e-5 * expected[0])  # float32
