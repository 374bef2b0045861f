"""The CUDA code path, exercised on a CPU-only machine.

What runs here without a GPU: device selection ("auto" / "cpu" / "cuda"), the fallback to CPU
when torch reports a GPU that then fails (simulated by making ``torch.cuda.is_available``
claim one: every CUDA call after it fails, exactly like a broken driver), the move to CPU
when a CUDA call fails while embedding (here the pinned-memory copy), the one-line error
for ``--device cuda`` with no GPU in the CLI, the autocast dtype chosen on CUDA (bf16, else
fp16) and the "bound by" line of ``soundalike bench encode``. What cannot run here: pinned
host memory and non-blocking copies (``pin_memory`` needs a CUDA runtime), real autocast on a
GPU and GPU throughput figures.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from app.benchmarks.encode import bound_by
from app.cli import main
from model.audio import split_windows
from model.checkpoint import new_untrained_model, save_model, untrained_card
from model.device import choose_precision, resolve_device
from model.encoder import Encoder
from model.network import ModelDims
from tests.synth_audio import music_like, write_audio

SMALL = ModelDims(stem_channels=8, widths=(8,) * 6)

no_gpu = pytest.mark.skipif(torch.cuda.is_available(), reason="a real GPU is present")


@pytest.fixture(scope="module")
def model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("model") / "untrained.pt"
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    save_model(path, new_untrained_model(3, SMALL), SMALL, untrained_card(3))
    torch.set_num_threads(previous)
    return path


@pytest.fixture()
def restore_threads():
    previous = torch.get_num_threads()
    yield
    torch.set_num_threads(previous)


@pytest.fixture()
def phantom_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """torch claims a GPU it cannot use (a broken driver looks like this)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


@no_gpu
def test_auto_falls_back_to_cpu_with_a_warning(
    model_path: Path, phantom_gpu: None, restore_threads: None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="model.device"):  # torch says a GPU is there...
        encoder = Encoder.load(model_path, device="auto", threads=1)  # ...and it fails
    assert encoder.device.type == "cpu"
    assert [r.getMessage() for r in caplog.records if "falling back to CPU" in r.getMessage()]
    windows, _ = split_windows(music_like(4.0, seed=1))
    reference = Encoder.load(model_path, device="cpu", threads=1).embed_windows(windows)
    np.testing.assert_array_equal(encoder.embed_windows(windows), reference)


@no_gpu
def test_explicit_cuda_that_fails_is_a_one_line_error(
    model_path: Path, phantom_gpu: None, restore_threads: None
) -> None:
    with pytest.raises(ValueError, match="^CUDA failed: ") as info:
        Encoder.load(model_path, device="cuda", threads=1)
    assert "\n" not in str(info.value)


@no_gpu
@pytest.mark.parametrize("command", ["embed", "index"])
def test_cli_device_cuda_without_gpu_says_so_in_one_line(
    command: str, model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    restore_threads: None,
) -> None:
    (tmp_path / "music").mkdir()
    write_audio(tmp_path / "music" / "a.wav", music_like(3.0, seed=2))
    args = {
        "embed": ["embed", str(tmp_path / "music" / "a.wav"), "-o", str(tmp_path / "out.npz")],
        "index": ["index", str(tmp_path / "music"), "--db", str(tmp_path / "lib.db")],
    }[command]
    code = main([*args, "--model", str(model_path), "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert code != 0
    assert "CUDA" in err and "Traceback" not in err and len(err.splitlines()) == 1


@no_gpu
def test_cli_reports_the_device_in_use(
    model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], restore_threads: None
) -> None:
    write_audio(tmp_path / "a.wav", music_like(3.0, seed=3))
    code = main(["embed", str(tmp_path / "a.wav"), "-o", str(tmp_path / "out.npz"),
                 "--model", str(model_path)])  # fmt: skip
    assert code == 0
    assert "encoder: device=cpu precision=" in capsys.readouterr().err


def test_cuda_precision_is_bf16_else_fp16(monkeypatch: pytest.MonkeyPatch) -> None:
    cuda = torch.device("cuda")
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert choose_precision(cuda) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert choose_precision(cuda) == torch.float16  # pre-Ampere GPUs: fp16 (+ GradScaler in training)
    assert choose_precision(cuda, "fp32") == torch.float32


@no_gpu
def test_one_device_rule_for_encoder_and_trainer(phantom_gpu: None, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="model.device"):
        assert resolve_device("auto").type == "cpu"  # the phantom GPU fails its first allocation
    assert any("falling back to CPU" in r.getMessage() for r in caplog.records)
    import model.train

    assert model.train.resolve_device is resolve_device  # the trainer uses the same rule


def test_bench_names_the_stage_that_bounds_the_pipeline() -> None:
    rates = {"decode": 100.0, "front end": 5000.0, "network": 800.0}
    assert bound_by(rates, decode_workers=2).startswith("bound by: decode (decode 200x")
    assert bound_by(rates, decode_workers=15).startswith("bound by: network")
    line = bound_by({"decode": 100.0, "front end": 300.0, "network": 900.0}, decode_workers=8)
    assert line.startswith("bound by: front end") and "front end + network 225x" in line


@no_gpu
def test_cuda_error_while_embedding_moves_the_encoder_to_cpu(
    model_path: Path, restore_threads: None, caplog: pytest.LogCaptureFixture
) -> None:
    windows, _ = split_windows(music_like(4.0, seed=4))
    reference = Encoder.load(model_path, device="cpu", threads=1).embed_windows(windows)
    encoder = Encoder.load(model_path, device="cpu", threads=1)
    encoder.device = torch.device("cuda")  # as if loaded on a GPU that then fails: every CUDA call raises
    with caplog.at_level(logging.WARNING, logger="model.encoder"):
        vectors = encoder.embed_windows(windows)
    assert encoder.device.type == "cpu"
    assert any("continuing on CPU" in r.getMessage() for r in caplog.records)
    np.testing.assert_array_equal(vectors, reference)
