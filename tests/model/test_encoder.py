"""The Encoder API: block-normalised window and track vectors, devices, precision, batching."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from model.audio import WINDOW_SAMPLES, AudioError, load_audio, split_windows
from model.dimensions import BLOCK_SIZE
from model.encoder import Encoder, TrackEmbedding, pipeline_threads, track_vector
from tests.model_files import make_model
from tests.synth_audio import music_like, noise, write_audio


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_model(tmp_path_factory.mktemp("model") / "untrained.pt", seed=7)


@pytest.fixture()
def encoder(model_path: Path) -> Encoder:
    previous = torch.get_num_threads()
    yield Encoder.load(model_path, device="cpu", threads=1)
    torch.set_num_threads(previous)


def _block_norms(vectors: np.ndarray) -> np.ndarray:
    return np.linalg.norm(vectors.reshape(*vectors.shape[:-1], -1, BLOCK_SIZE), axis=-1)


def test_window_vectors_are_block_normalised(encoder: Encoder) -> None:
    windows, _ = split_windows(music_like(10.0, seed=1))
    vectors = encoder.embed_windows(windows)
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(_block_norms(vectors), 1.0, atol=1e-5)


def test_cpu_embedding_is_deterministic(encoder: Encoder, model_path: Path) -> None:
    windows, _ = split_windows(noise(7.0, seed=2))
    first = encoder.embed_windows(windows)
    again = Encoder.load(model_path, device="cpu", threads=1).embed_windows(windows)
    np.testing.assert_array_equal(first, again)


def test_batching_does_not_change_results(encoder: Encoder) -> None:
    windows, _ = split_windows(music_like(20.0, seed=3))
    whole = encoder.embed_windows(windows)
    encoder.batch_windows = 2
    cosine = np.sum(encoder.embed_windows(windows) * whole, axis=1) / 4  # four unit blocks
    assert cosine.min() >= 0.999


def test_track_vector_is_the_renormalised_mean() -> None:
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(5, 256)).astype(np.float32)
    track = track_vector(windows)
    np.testing.assert_allclose(_block_norms(track), 1.0, atol=1e-6)
    mean_block = windows.mean(axis=0)[:BLOCK_SIZE]
    np.testing.assert_allclose(track[:BLOCK_SIZE], mean_block / np.linalg.norm(mean_block), rtol=1e-5)
    with pytest.raises(ValueError):
        track_vector(np.zeros((0, 256), np.float32))


def test_embed_file_equals_embed_samples(encoder: Encoder, tmp_path: Path) -> None:
    path = write_audio(tmp_path / "a.ogg", music_like(9.0, seed=4))
    from_file = encoder.embed_file(path)
    from_samples = encoder.embed_samples(load_audio(path))
    assert isinstance(from_file, TrackEmbedding) and not from_file.padded
    np.testing.assert_allclose(from_file.windows, from_samples.windows, atol=1e-6)
    np.testing.assert_allclose(from_file.track, from_samples.track, atol=1e-6)


def test_short_clip_is_padded_and_flagged(encoder: Encoder, tmp_path: Path) -> None:
    result = encoder.embed_file(write_audio(tmp_path / "short.wav", music_like(1.0, seed=5)))
    assert result.padded and result.windows.shape == (1, 256)


def test_embed_files_overlaps_decoding_and_skips_bad_files(encoder: Encoder, tmp_path: Path) -> None:
    good = [write_audio(tmp_path / f"{i}.mp3", music_like(4.0 + i, seed=i)) for i in range(3)]
    bad = tmp_path / "bad.ogg"
    bad.write_bytes(b"garbage" * 100)
    paths = [str(good[0]), str(bad), str(good[1]), str(good[2])]
    results = dict(encoder.embed_files(paths, decode_workers=2))
    assert set(results) == set(paths)
    assert isinstance(results[str(bad)], AudioError)
    for path in good:
        expected = encoder.embed_file(path)
        got = results[str(path)]
        assert isinstance(got, TrackEmbedding)
        np.testing.assert_allclose(got.track, expected.track, atol=1e-5)


def test_closing_embed_files_early_stops_cleanly(encoder: Encoder, tmp_path: Path) -> None:
    paths = [write_audio(tmp_path / f"{i}.wav", noise(4.0, seed=i)) for i in range(4)]
    threads = torch.get_num_threads()
    iterator = encoder.embed_files(paths, decode_workers=1)
    first_path, first = next(iterator)
    assert first_path == str(paths[0]) and isinstance(first, TrackEmbedding)
    iterator.close()  # must join the decoder thread without hanging
    assert not [t for t in threading.enumerate() if t.name.startswith("decode-") and t.is_alive()]
    assert torch.get_num_threads() == threads  # the CPU split is undone
    with pytest.raises(StopIteration):
        next(iterator)


def test_bf16_path_matches_fp32(model_path: Path) -> None:
    windows = np.concatenate(
        [split_windows(music_like(9.0, seed=s))[0] for s in range(3)]
    ) * np.float32(0.8)
    fp32 = Encoder.load(model_path, device="cpu", precision="fp32", threads=1)
    bf16 = Encoder.load(model_path, device="cpu", precision="bf16", threads=1)
    a, b = fp32.embed_windows(windows), bf16.embed_windows(windows)
    assert bf16.precision == "bf16" and fp32.precision == "fp32"
    cosine = np.sum(a * b, axis=1) / 4
    assert cosine.min() >= 0.999, cosine


def test_device_choice_and_thread_split() -> None:
    from model.device import resolve_device

    assert resolve_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert resolve_device("auto").type == "cpu"
        with pytest.raises(ValueError, match="no CUDA"):
            resolve_device("cuda")
    with pytest.raises(ValueError):
        resolve_device("tpu")
    assert pipeline_threads(2) == (1, 1) and pipeline_threads(1) == (1, 1)
    assert sum(pipeline_threads(16)) == 16


def test_windows_must_be_two_dimensional(encoder: Encoder) -> None:
    with pytest.raises(ValueError):
        encoder.embed_windows(np.zeros(WINDOW_SAMPLES, np.float32))
    assert encoder.embed_windows(np.zeros((0, WINDOW_SAMPLES), np.float32)).shape == (0, 256)


def test_embed_mel_takes_the_numpy_front_ends_log_mel(encoder: Encoder) -> None:
    """On a CPU the indexer's decoders send log-mel (model.mel.log_mel) to torch's encoder as to
    the ONNX one: the vectors must be what the waveforms give through torch's own front end."""
    from model.mel import log_mel

    windows, _ = split_windows(music_like(10.0, seed=3))
    from_mel, from_waveforms = encoder.embed_mel(log_mel(windows)), encoder.embed_windows(windows)
    block_cosines = (from_mel * from_waveforms).reshape(len(windows), -1, BLOCK_SIZE).sum(axis=-1)
    assert block_cosines.min() >= 0.9999  # the same input to 4e-7, rounded apart by bf16 where used
    with pytest.raises(ValueError):
        encoder.embed_mel(windows)  # waveforms are not log-mel
    assert encoder.embed_mel(np.zeros((0, 1, 128, 129), np.float32)).shape == (0, 256)


def test_cpu_without_bf16_falls_back_to_fp32(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import model.device as device_module

    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: False)
    assert Encoder.load(model_path, device="cpu", threads=1).precision == "fp32"
    monkeypatch.setattr(device_module, "cpu_supports_bf16", lambda: True)
    assert Encoder.load(model_path, device="cpu", threads=1).precision == "bf16"
    monkeypatch.setenv("SOUNDALIKE_PRECISION", "fp32")
    assert Encoder.load(model_path, device="cpu", threads=1).precision == "fp32"
