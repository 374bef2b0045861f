"""Formats libsndfile cannot open (.m4a & co.) decoded in process by PyAV (model.av_formats),
without an ffmpeg install; the test files come from PyAV's own encoders."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model import av_formats
from model.audio import (
    SAMPLE_RATE,
    AudioError,
    audio_duration,
    load_audio,
    stream_audio,
    stream_windows,
)
from tests.synth_audio import music_like, write_audio, write_m4a

av = pytest.importorskip("av")


@pytest.fixture
def no_ffmpeg(monkeypatch, tmp_path: Path) -> None:
    """No ffmpeg on PATH, and no subprocess at all: decoding must happen in this process."""
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)

    def refuse(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        raise AssertionError(f"a subprocess was started: {args}")

    monkeypatch.setattr(subprocess, "Popen", refuse)


def _snr_db(decoded: np.ndarray, reference: np.ndarray) -> float:
    return float(10 * np.log10(np.sum(reference**2) / np.sum((decoded - reference) ** 2)))


@pytest.mark.parametrize("channels", [1, 2])
def test_m4a_decodes_without_ffmpeg_close_to_its_source_and_aligned(tmp_path: Path, no_ffmpeg, channels: int) -> None:
    """AAC is lossy: the samples match the WAV's within an SNR bound, at the same length and
    offset (the MP4 edit list drops the encoder's priming, its length its padding)."""
    left = music_like(6.0, seed=2, sr=44100)
    samples = left if channels == 1 else np.stack([left, 0.5 * left], axis=1)
    wav = write_audio(tmp_path / "a.wav", samples, 44100)
    m4a = write_m4a(tmp_path / "a.m4a", samples, 44100)
    decoded, reference = load_audio(m4a), load_audio(wav)
    assert decoded.dtype == np.float32 and decoded.ndim == 1
    assert decoded.size == reference.size == 6 * SAMPLE_RATE
    assert audio_duration(m4a) == pytest.approx(6.0, abs=1e-3)
    assert _snr_db(decoded, reference) > 15  # the channel mean, 0.75 x left for stereo
    lags = [_snr_db(decoded[8 + lag : -8 + lag], reference[8:-8]) for lag in range(-3, 4)]
    assert int(np.argmax(lags)) == 3  # best aligned at lag 0


@pytest.mark.parametrize(("offset_s", "duration_s"), [(0.3, 1.0), (1.7, 2.25), (3.0, None), (4.99, 5.0), (9.0, 1.0)])
def test_spans_are_the_whole_files_samples(tmp_path: Path, offset_s: float, duration_s: float | None) -> None:
    """A span (seek before it, trim by timestamps) has exactly the whole decode's samples;
    a 22 050 Hz source, so no resampler edge stands between them."""
    path = write_m4a(tmp_path / "b.m4a", np.stack([music_like(5.0, seed=5), music_like(5.0, seed=6)], axis=1))
    whole = load_audio(path)
    start = int(round(offset_s * SAMPLE_RATE))
    end = None if duration_s is None else start + int(round(duration_s * SAMPLE_RATE))
    np.testing.assert_array_equal(load_audio(path, offset_s, duration_s), whole[start:end])


@pytest.mark.parametrize("suffix", [".mov", ".mkv"])
def test_spans_of_a_video_files_soundtrack_are_its_samples(tmp_path: Path, suffix: str) -> None:
    """With a video stream beside the audio: a .mov seeks the audio stream (sample-exact
    timestamps), a .mkv's millisecond timestamps are decoded from the start; both give the
    whole decode's samples."""
    path = _video_with_sound(tmp_path / f"cut{suffix}", music_like(6.0, seed=14))
    whole = load_audio(path)
    assert whole.size == pytest.approx(6 * SAMPLE_RATE, abs=1024)
    for offset_s, duration_s in [(1.7, 2.25), (4.2, None)]:
        start = int(round(offset_s * SAMPLE_RATE))
        end = None if duration_s is None else start + int(round(duration_s * SAMPLE_RATE))
        np.testing.assert_array_equal(load_audio(path, offset_s, duration_s), whole[start:end])


def test_blocks_are_bounded_and_native_rate_kept(tmp_path: Path) -> None:
    """Streamed in blocks of about READ_BLOCK_SECONDS, and 44.1 kHz kept for a GPU encoder."""
    path = write_m4a(tmp_path / "c.m4a", music_like(25.0, seed=7, sr=44100), 44100)
    sizes = [chunk.size for chunk in stream_audio(path)]
    assert len(sizes) >= 3 and max(sizes) <= 10 * SAMPLE_RATE + 2048 and sum(sizes) == 25 * SAMPLE_RATE
    batches = list(stream_windows(path, batch_windows=4, native=True))
    assert batches[0].rate == 44100 and batches[-1].decoded_s == pytest.approx(25.0)


def test_other_sample_formats_are_converted(tmp_path: Path) -> None:
    """ALAC decodes to 16-bit planar: converted to float, it is the source's samples / 32768."""
    source = music_like(3.0, seed=8)
    path = tmp_path / "d.m4a"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("alac", rate=SAMPLE_RATE, layout="mono")
        pcm = np.round(source * 32767).astype(np.int16)
        for start in range(0, pcm.size, 4096):
            frame = av.AudioFrame.from_ndarray(pcm[None, start : start + 4096].copy(), format="s16p", layout="mono")
            frame.rate, frame.pts = SAMPLE_RATE, start
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    assert next(iter(av.open(str(path)).decode(audio=0))).format.name != "fltp"
    np.testing.assert_array_equal(load_audio(path), pcm.astype(np.float32) / 32768)


def test_broken_files_give_one_line_reasons(tmp_path: Path) -> None:
    data_first = write_m4a(tmp_path / "e.m4a", music_like(6.0, seed=9), faststart=True).read_bytes()
    index_last = write_m4a(tmp_path / "f.m4a", music_like(6.0, seed=9), faststart=False).read_bytes()
    cases = {
        "cut.m4a": (data_first[: len(data_first) // 2], "decoding failed at|truncated"),
        "cut-index.m4a": (index_last[: len(index_last) // 2], "unsupported audio format or corrupt file"),
        "junk.m4a": (np.random.default_rng(0).bytes(5000), "unsupported audio format or corrupt file"),
        "silent.mp4": (_video_without_sound(tmp_path / "v.mp4").read_bytes(), "no audio stream"),
    }
    for name, (data, reason) in cases.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(AudioError, match=reason) as caught:
            load_audio(path)
        assert "\n" not in str(caught.value)
    assert audio_duration(tmp_path / "cut.m4a") == pytest.approx(6.0, abs=1e-3)  # what the header says
    with pytest.raises(AudioError, match="no audio stream"):
        audio_duration(tmp_path / "silent.mp4")


def test_a_damaged_packet_becomes_silence_and_many_make_the_file_corrupt(tmp_path: Path, monkeypatch) -> None:
    """A few bad bytes cost a frame or two, not the file (as in players; the timeline stays
    aligned); a file damaged throughout is an error, not silence."""
    clean = write_m4a(tmp_path / "clean.m4a", music_like(6.0, seed=13))
    data = bytearray(clean.read_bytes())
    rng = np.random.default_rng(0)
    middle = len(data) * 6 // 10
    data[middle : middle + 40] = rng.bytes(40)
    (tmp_path / "damaged.m4a").write_bytes(bytes(data))
    damaged, whole = load_audio(tmp_path / "damaged.m4a"), load_audio(clean)
    assert damaged.size == whole.size
    assert 0 < np.count_nonzero(np.abs(damaged - whole) > 1e-4) < 0.05 * whole.size
    with monkeypatch.context() as strict:  # (a packet did fail to decode: no tolerance, no file)
        strict.setattr(av_formats, "MAX_DAMAGED_PACKETS", 0)
        with pytest.raises(AudioError, match="corrupt data"):
            load_audio(tmp_path / "damaged.m4a")
    data[len(data) // 4 :] = rng.bytes(len(data) - len(data) // 4)
    (tmp_path / "ruined.m4a").write_bytes(bytes(data))
    with pytest.raises(AudioError, match="corrupt data"):
        load_audio(tmp_path / "ruined.m4a")


def _video_without_sound(path: Path) -> Path:
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "yuv420p"
        for i in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 40 * i, np.uint8), format="rgb24")
            out.mux(stream.encode(frame))
        out.mux(stream.encode(None))
    return path


def _video_with_sound(path: Path, samples: np.ndarray) -> Path:
    """MPEG-4 video (10 fps, 32x32) interleaved with AAC (PNS off) at 22 050 Hz, mono."""
    with av.open(str(path), "w") as out:
        video = out.add_stream("mpeg4", rate=10)
        video.width, video.height, video.pix_fmt = 32, 32, "yuv420p"
        audio = out.add_stream("aac", rate=SAMPLE_RATE, layout="mono", options={"aac_pns": "0"})
        planar = np.asarray(samples, np.float32)[None]
        done = 0
        for i in range(int(10 * samples.size / SAMPLE_RATE)):
            frame = av.VideoFrame.from_ndarray(np.full((32, 32, 3), 20 * (i % 10), np.uint8), format="rgb24")
            frame.pts = i
            out.mux(video.encode(frame))
            while done < min((i + 1) * SAMPLE_RATE // 10, samples.size):
                sound = av.AudioFrame.from_ndarray(planar[:, done : done + 1024].copy(), format="fltp", layout="mono")
                sound.rate, sound.pts = SAMPLE_RATE, done
                done += sound.samples
                out.mux(audio.encode(sound))
        out.mux(audio.encode(None))
        out.mux(video.encode(None))
    return path


def test_pyav_is_imported_only_for_its_formats(tmp_path: Path) -> None:
    """A WAV query never pays PyAV's import (~0.1 s); an .m4a imports it when met."""
    wav = write_audio(tmp_path / "g.wav", music_like(1.0, seed=10))
    m4a = write_m4a(tmp_path / "g.m4a", music_like(1.0, seed=10))
    code = (
        "import sys; from model.audio import load_audio; "
        f"load_audio({str(wav)!r}); print('av' in sys.modules); "
        f"load_audio({str(m4a)!r}); print('av' in sys.modules)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "True"]


def test_without_pyav_such_a_file_is_an_error_saying_so(tmp_path: Path, monkeypatch) -> None:
    """A broken install (PyAV missing): one line naming the cause, not an ImportError."""
    path = write_m4a(tmp_path / "h.m4a", music_like(1.0, seed=10))
    monkeypatch.setitem(sys.modules, "av", None)  # ``import av`` raises ImportError
    for call in (load_audio, audio_duration):
        with pytest.raises(AudioError, match=r"unsupported audio format \(\.m4a\): PyAV is missing"):
            call(path)


def test_an_m4a_in_a_folder_is_indexed(tmp_path: Path) -> None:
    from app.core.catalog import Catalog
    from app.core.indexer import IndexSummary, index_folders
    from model.encoder import Encoder
    from tests.app.library_helpers import make_model

    music = tmp_path / "music"
    music.mkdir()
    write_m4a(music / "song.m4a", np.stack([music_like(8.0, seed=11, sr=44100)] * 2, axis=1), 44100)
    write_audio(music / "other.wav", music_like(7.0, seed=12))
    encoder = Encoder.load(make_model(tmp_path / "m.pt"), device="cpu")
    summary = IndexSummary()
    with Catalog.open(tmp_path / "lib.db") as catalog:
        list(index_folders(catalog, [music], encoder, summary=summary, workers=1))
        assert (summary.added, summary.failed) == (2, [])
        track = catalog.find_track(str(music / "song.m4a"))
        assert track.status == "ok" and track.duration_s == pytest.approx(8.0, abs=0.01)
        assert str(music / "song.m4a") in catalog.load_track_vectors(encoder.model_id).paths
