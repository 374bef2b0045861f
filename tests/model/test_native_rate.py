"""44.1 kHz files skip the resampler and still give today's features and embeddings.

The native path (n_fft 2048 / hop 1024 with the resampler's response folded into the
filterbank, model/features.py) must match the resampled 22 050 Hz path: log-mel to about
1e-3 on average, and the shipped model's embeddings to cosine >= .999 (the contract for
changing the front end without retraining). The audio is synthesised with content above
11 kHz (noise, clicks) so the anti-alias roll-off the filterbank models is exercised.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soxr
import torch

from model.audio import (
    NATIVE_RATES,
    RESAMPLE_QUALITY,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    load_audio,
    split_windows,
    stream_windows,
    windows_rate,
)
from model.dimensions import BLOCK_SIZE
from model.encoder import Encoder, TrackEmbedding, track_vector
from model.features import LogMel, build_mel_filters, mel_filters
from tests.synth_audio import music_like, noise, write_audio

SHIPPED_MODEL = Path(__file__).resolve().parents[2] / "resources" / "models" / "default.pt"


def _bright_music(seconds: float, seed: int) -> np.ndarray:
    """Chords and clicks at 44.1 kHz plus white noise reaching 22 kHz, stereo."""
    mono = music_like(seconds, seed=seed, sr=44100) + noise(seconds, seed=seed + 1, sr=44100, amplitude=0.1)
    return np.stack([mono, np.roll(mono, 441)], axis=1) * 0.7


def test_shipped_filterbanks_equal_their_builds() -> None:
    for rate in NATIVE_RATES:
        np.testing.assert_allclose(mel_filters(rate), build_mel_filters(rate), rtol=1e-6, atol=1e-9)
    # the 44.1 kHz bank is the 22.05 kHz one scaled by 1/4 in the passband, rolled off at the top
    ratio = mel_filters(44100)[:100].sum(axis=1) / mel_filters(SAMPLE_RATE)[:100].sum(axis=1)
    np.testing.assert_allclose(ratio, 0.25, rtol=1e-4)
    assert mel_filters(44100)[-1].sum() < 0.2 * mel_filters(SAMPLE_RATE)[-1].sum()


def test_native_front_end_matches_the_resampled_one() -> None:
    native = _bright_music(6.0, seed=3).mean(axis=1).astype(np.float32)
    resampled = soxr.resample(native, 44100, SAMPLE_RATE, quality=RESAMPLE_QUALITY)
    with torch.no_grad():
        ours = LogMel()(torch.from_numpy(native[None, : 2 * WINDOW_SAMPLES]), 44100)
        theirs = LogMel()(torch.from_numpy(resampled[None, :WINDOW_SAMPLES]))
    assert ours.shape == theirs.shape
    difference = (ours - theirs).abs()
    assert difference[..., 2:-2].mean() < 1e-3  # edge frames see the resampler's context
    with pytest.raises(ValueError):
        LogMel()(torch.zeros(1, WINDOW_SAMPLES), 48000)


def test_native_windows_are_the_resampled_windows_at_twice_the_rate(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", _bright_music(10.0, seed=1), 44100)
    batches = list(stream_windows(path, batch_windows=2, native=True))
    assert [len(b.samples) for b in batches] == [2, 1] and [b.last for b in batches] == [False, True]
    assert all(b.rate == 44100 and windows_rate(b.samples) == 44100 for b in batches)
    assert batches[-1].decoded_s == pytest.approx(10.0, abs=1e-3)
    assert len(split_windows(load_audio(path))[0]) == 3


@pytest.mark.skipif(not SHIPPED_MODEL.is_file(), reason="no shipped model")
def test_shipped_model_embeds_44k_files_as_before(tmp_path: Path) -> None:
    encoder = Encoder.load(SHIPPED_MODEL, device="cpu", precision="fp32", threads=1)
    for seed in (0, 1):
        path = write_audio(tmp_path / f"song{seed}.ogg", _bright_music(15.0, seed=seed), 44100)
        batches = list(stream_windows(path, batch_windows=8, native=True))
        assert batches[0].rate == 44100
        native_windows = encoder.embed_windows(np.concatenate([b.samples for b in batches]))
        native = TrackEmbedding(native_windows, track_vector(native_windows), False)
        resampled = encoder.embed_samples(load_audio(path))
        assert native.windows.shape == resampled.windows.shape
        for start in range(0, native.track.size, BLOCK_SIZE):  # every dimension's block
            block = slice(start, start + BLOCK_SIZE)
            assert float(native.track[block] @ resampled.track[block]) >= 0.999
        window_cosines = (native.windows * resampled.windows).sum(axis=1) / (native.track.size // BLOCK_SIZE)
        assert window_cosines.min() >= 0.995


def test_cpu_encoder_resamples_where_that_is_cheaper(tmp_path: Path) -> None:
    from tests.model_files import make_model

    encoder = Encoder.load(make_model(tmp_path / "m.pt", seed=1), device="cpu", threads=1)
    assert not encoder.native_rates
    path = write_audio(tmp_path / "a.flac", _bright_music(7.0, seed=2), 44100)
    np.testing.assert_array_equal(encoder.embed_file(path).windows, encoder.embed_samples(load_audio(path)).windows)
