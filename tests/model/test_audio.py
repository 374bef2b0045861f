"""Decoding: every supported format to 22 050 Hz mono, and one-line errors for bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model import av_decode
from model.audio import (
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    AudioError,
    audio_duration,
    iter_windows,
    load_audio,
    split_windows,
    stream_audio,
)
from tests.synth_audio import music_like, noise, tone, write_audio


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_formats_decode_to_mono_22050(tmp_path: Path, suffix: str) -> None:
    stereo = np.stack([tone(440, 4.0, 44100), tone(440, 4.0, 44100)], axis=1)
    path = write_audio(tmp_path / f"a{suffix}", stereo, 44100)
    samples = load_audio(path)
    assert samples.dtype == np.float32 and samples.ndim == 1
    # MP3 adds encoder delay/padding of a few ms; the rest must be exact to the sample.
    assert abs(len(samples) - 4 * SAMPLE_RATE) <= (0.1 * SAMPLE_RATE if suffix == ".mp3" else 1)
    assert audio_duration(path) == pytest.approx(4.0, abs=0.1)
    # The tone survives resampling: its spectrum peaks at 440 Hz.
    spectrum = np.abs(np.fft.rfft(samples[: SAMPLE_RATE * 2]))
    assert np.argmax(spectrum) * SAMPLE_RATE / (SAMPLE_RATE * 2) == pytest.approx(440, abs=2)


def test_resampling_is_high_quality(tmp_path: Path) -> None:
    """A 15 kHz tone at 48 kHz lands below Nyquist without audible aliasing or loss."""
    path = write_audio(tmp_path / "a.wav", tone(9000, 2.0, 48000, 0.5), 48000, "FLOAT")
    samples = load_audio(path)[2000:-2000]
    assert np.sqrt(np.mean(samples**2)) == pytest.approx(0.5 / np.sqrt(2), rel=0.01)


def test_offset_and_duration_select_a_span(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.flac", music_like(6.0, seed=1), SAMPLE_RATE)
    full = load_audio(path)
    part = load_audio(path, offset_s=2.0, duration_s=1.0)
    assert len(part) == SAMPLE_RATE
    np.testing.assert_allclose(part, full[2 * SAMPLE_RATE : 3 * SAMPLE_RATE], atol=1e-6)


def test_multichannel_is_the_channel_mean(tmp_path: Path) -> None:
    left, right = tone(300, 1.0), noise(1.0, seed=3)
    six = np.stack([left, right, left, right, left, right], axis=1)
    path = write_audio(tmp_path / "six.wav", six, SAMPLE_RATE, "FLOAT")
    np.testing.assert_allclose(load_audio(path), (left + right) / 2, atol=1e-6)


def test_8bit_and_192khz_decode(tmp_path: Path) -> None:
    eight = write_audio(tmp_path / "u8.wav", tone(440, 1.0, 8000), 8000, "PCM_U8")
    fast = write_audio(tmp_path / "hi.flac", tone(440, 1.0, 192000), 192000, "PCM_24")
    for path in (eight, fast):
        samples = load_audio(path)
        assert abs(len(samples) - SAMPLE_RATE) <= 1
        assert 0.3 < np.abs(samples).max() < 0.6


def test_silence_is_zeros_not_an_error(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "quiet.wav", np.zeros(SAMPLE_RATE * 4, np.float32))
    samples = load_audio(path)
    assert samples.shape == (SAMPLE_RATE * 4,) and not samples.any()


def test_split_windows_pads_short_clips_and_drops_remainders() -> None:
    windows, padded = split_windows(np.ones(1000, np.float32))
    assert windows.shape == (1, WINDOW_SAMPLES) and padded
    assert windows[0, :1000].all() and not windows[0, 1000:].any()
    windows, padded = split_windows(np.arange(WINDOW_SAMPLES * 2 + 5, dtype=np.float32))
    assert windows.shape == (2, WINDOW_SAMPLES) and not padded
    assert windows[1, 0] == WINDOW_SAMPLES  # window i starts at sample i * WINDOW_SAMPLES
    with pytest.raises(ValueError):
        split_windows(np.zeros(0, np.float32))


def test_iter_windows_streams_the_same_windows(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.ogg", music_like(20.0, seed=2, sr=44100), 44100)
    expected, _ = split_windows(load_audio(path))
    batches = list(iter_windows(path, batch_windows=2))
    assert [len(w) for w, _ in batches] == [2, 2, 2]
    np.testing.assert_array_equal(np.concatenate([w for w, _ in batches]), expected)


def test_streaming_reads_in_bounded_chunks(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.wav", noise(35.0, seed=1, sr=44100), 44100)
    sizes = [len(chunk) for chunk in stream_audio(path)]
    assert len(sizes) >= 3 and max(sizes) <= 11 * SAMPLE_RATE
    assert sum(sizes) == pytest.approx(35 * SAMPLE_RATE, abs=2)


def _bad_files(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    good = {s: write_audio(tmp_path / f"good{s}", music_like(8.0, seed=4, sr=44100), 44100)
            for s in (".wav", ".ogg", ".mp3", ".flac")}  # fmt: skip
    cases: dict[str, tuple[Path, str]] = {}
    (tmp_path / "empty.wav").touch()
    cases["zero bytes"] = (tmp_path / "empty.wav", "empty file")
    for suffix, path in good.items():
        cut = tmp_path / f"cut{suffix}"
        data = path.read_bytes()
        cut.write_bytes(data[: len(data) // 2])
        cases[f"truncated {suffix}"] = (cut, "truncat")
        junk = tmp_path / f"junk{suffix}"
        junk.write_bytes(np.random.default_rng(0).bytes(20_000))
        cases[f"random bytes {suffix}"] = (junk, "not a readable audio file")
    (tmp_path / "notes.txt").write_text("not audio at all\n")
    cases["unsupported"] = (tmp_path / "notes.txt", "unsupported audio format")
    cases["missing"] = (tmp_path / "nope.ogg", "no such file")
    cases["directory"] = (tmp_path, "is a directory")
    return cases


def test_bad_input_raises_audio_error_with_one_line_reason(tmp_path: Path) -> None:
    for name, (path, expected) in _bad_files(tmp_path).items():
        with pytest.raises(AudioError) as info:
            load_audio(path)
        message = str(info.value)
        assert "\n" not in message, name
        assert expected in message or (
            # libsndfile reports a FLAC cut mid-frame as a decode failure, not by length.
            name == "truncated .flac" and "truncated or corrupt" in message
        ), f"{name}: {message}"


def test_audio_duration_reports_errors_too(tmp_path: Path) -> None:
    (tmp_path / "empty.mp3").touch()
    with pytest.raises(AudioError, match="empty file"):
        audio_duration(tmp_path / "empty.mp3")


def test_header_without_frames_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "none.wav"
    sf.write(str(path), np.zeros(0, np.float32), SAMPLE_RATE)
    with pytest.raises(AudioError, match="no audio"):
        load_audio(path)


@pytest.fixture
def with_av(monkeypatch) -> None:
    """PyAV enabled, as in the decoder workers (model.decode_pool), for this test only."""
    monkeypatch.setattr(av_decode, "av", pytest.importorskip("av"))


@pytest.mark.parametrize(("subtype", "rate", "tolerance"), [("VORBIS", 44100, 1e-4), ("OPUS", 48000, 0.05)])
def test_vorbis_and_opus_are_decoded_by_av_like_libsndfile(
    tmp_path: Path, monkeypatch, with_av, subtype: str, rate: int, tolerance: float
) -> None:
    """FFmpeg's decoders (cheaper) and libvorbis/libopus agree far below what the features see
    (Vorbis: the same samples; Opus: ffmpeg's decoder is a different implementation)."""
    mono = music_like(8.0, seed=3, sr=rate)
    path = tmp_path / f"a.{'ogg' if subtype == 'VORBIS' else 'opus'}"
    sf.write(str(path), np.stack([mono, 0.5 * mono], axis=1), rate, format="OGG", subtype=subtype)
    opened = []
    real_open = av_decode.open_mono
    monkeypatch.setattr(av_decode, "open_mono", lambda *a: opened.append(r := real_open(*a)) or r)
    decoded = load_audio(path)
    assert opened and opened[0] is not None  # decoded by PyAV, then resampled here
    monkeypatch.setattr(av_decode, "open_mono", lambda *a: None)
    expected = load_audio(path)
    assert decoded.shape == expected.shape
    error = np.sqrt(np.mean((decoded - expected)[4096:] ** 2)) / np.sqrt(np.mean(expected**2))
    assert error < tolerance


def test_av_decoding_streams_blocks_and_leaves_flac_to_libsndfile(tmp_path: Path, with_av) -> None:
    """Whole blocks of the asked length (bounded memory), the channel mean, and None for a
    codec libsndfile decodes better."""
    left = music_like(5.0, seed=4, sr=44100)
    path = tmp_path / "b.ogg"
    sf.write(str(path), np.stack([left, 0.25 * left], axis=1), 44100, format="OGG", subtype="VORBIS")
    blocks = list(av_decode.open_mono(path, 44100, AudioError))
    assert [b.size for b in blocks[:-1]] == [44100] * (len(blocks) - 1) and 0 < blocks[-1].size <= 44100
    np.testing.assert_allclose(np.concatenate(blocks), sf.read(str(path), dtype="float32")[0].mean(axis=1), atol=1e-5)
    flac = tmp_path / "c.flac"
    sf.write(str(flac), left, 44100)
    assert av_decode.open_mono(flac, 44100, AudioError) is None


def test_av_decoding_is_off_until_enabled(tmp_path: Path, monkeypatch) -> None:
    """A search's process never imports PyAV: it would cost more than it saves on one query."""
    monkeypatch.setattr(av_decode, "av", None)
    path = tmp_path / "d.ogg"
    sf.write(str(path), music_like(3.0, seed=5, sr=44100), 44100, format="OGG", subtype="VORBIS")
    assert av_decode.open_mono(path, 44100, AudioError) is None


def test_channel_sum_and_scaled_blocks_give_the_channel_mean_with_non_finite_samples_zeroed() -> None:
    """model.av_decode's mix: planes summed, checked, then scaled while copied into blocks."""
    from model.av_decode import _BlockFiller, _channel_sum

    rng = np.random.default_rng(0)
    left, right = rng.standard_normal((2, 10)).astype(np.float32)
    right[3], left[7] = np.nan, np.inf
    frames = [[left[:6].tobytes(), right[:6].tobytes()], [left[6:].tobytes(), right[6:].tobytes()]]
    filler = _BlockFiller(4)
    blocks = [b.copy() for b in filler.add(_channel_sum(frames, 2), 0.5)]
    mono = np.concatenate([*blocks, filler.block[: filler.filled]])
    expected = (left + right) * np.float32(0.5)
    expected[[3, 7]] = 0.0
    np.testing.assert_array_equal(mono, expected)
    assert [len(b) for b in blocks] == [4, 4] and filler.filled == 2
