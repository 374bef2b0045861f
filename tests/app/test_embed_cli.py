"""``soundalike embed`` end to end: the real CLI in a subprocess, on synthesised files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from model.dimensions import BLOCK_SIZE, DIMENSIONS
from tests.model_files import make_model
from tests.synth_audio import music_like, write_audio


def _soundalike(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", *map(str, args)],
        capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})},
    )  # fmt: skip


@pytest.fixture(scope="module", params=["torch", "onnx"])
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model file; "onnx": with its export beside it, which `embed` then runs on."""
    path = make_model(tmp_path_factory.mktemp("model") / "untrained.pt", seed=0)
    if request.param == "onnx":
        pytest.importorskip("onnx")
        from model.export_onnx import export

        export(path)
    return path


def test_embeds_files_and_list_skipping_bad_ones(tmp_path: Path, model: Path) -> None:
    files = [
        write_audio(tmp_path / "a.ogg", music_like(7.0, seed=1)),
        write_audio(tmp_path / "b.mp3", music_like(4.0, seed=2)),
        write_audio(tmp_path / "c.wav", music_like(2.0, seed=3)),  # shorter than one window
    ]
    bad = tmp_path / "broken.flac"
    bad.write_bytes(b"fLaC" + b"\x00" * 50)
    listing = tmp_path / "list.txt"
    listing.write_text(f"# a comment\n{files[2]}\n\n")
    out = tmp_path / "out" / "vectors.npz"
    result = _soundalike("embed", files[0], bad, files[1], "--from-list", listing,
                         "-o", out, "--model", model, "--device", "cpu")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"skipped: {bad}" in result.stderr
    exported = "runtime=onnx" in result.stderr or "runtime=openvino" in result.stderr
    assert exported == model.with_suffix(".onnx").is_file()  # the export is used (OpenVINO runs it in bf16)
    assert "embedded 4/4 files" in result.stderr
    data = np.load(out)
    assert list(data["paths"]) == [str(files[0]), str(files[1]), str(files[2])]
    assert data["embeddings"].dtype == np.float32 and data["embeddings"].shape == (3, 256)
    assert tuple(data["dimensions"]) == DIMENSIONS
    norms = np.linalg.norm(data["embeddings"].reshape(3, -1, BLOCK_SIZE), axis=-1)
    np.testing.assert_allclose(norms, 1.0, atol=1e-5)


def test_nothing_embedded_exits_non_zero(tmp_path: Path, model: Path) -> None:
    bad = tmp_path / "noise.mp3"
    bad.write_bytes(np.random.default_rng(0).bytes(4000))
    result = _soundalike("embed", bad, "-o", tmp_path / "o.npz", "--model", model)
    assert result.returncode == 1
    assert "nothing embedded" in result.stderr and not (tmp_path / "o.npz").exists()


def test_argument_errors_exit_two(tmp_path: Path, model: Path) -> None:
    song = write_audio(tmp_path / "a.wav", music_like(3.0))
    no_files = _soundalike("embed", "-o", tmp_path / "o.npz", "--model", model)
    assert no_files.returncode == 2 and "no input files" in no_files.stderr
    bad_model = _soundalike("embed", song, "-o", tmp_path / "o.npz", "--model", tmp_path / "x.pt")
    assert bad_model.returncode == 2 and "no model file at" in bad_model.stderr
    corrupt = tmp_path / "corrupt.pt"
    corrupt.write_bytes(b"nope" * 10)
    bad_file = _soundalike("embed", song, "-o", tmp_path / "o.npz", "--model", corrupt)
    assert bad_file.returncode == 2 and "not a readable soundalike model" in bad_file.stderr


def test_missing_default_model_says_so(tmp_path: Path) -> None:
    song = write_audio(tmp_path / "a.wav", music_like(3.0))
    result = _soundalike("embed", song, "-o", tmp_path / "o.npz",
                         env={"SOUNDALIKE_MODEL": str(tmp_path / "absent.pt")})  # fmt: skip
    assert result.returncode == 2 and "no model file at" in result.stderr and "SOUNDALIKE_MODEL" in result.stderr
