"""Embedding leaves nothing in the user's home: the inference runtimes' telemetry is off.

onnxruntime's Linux wheels (1.2x) keep a device id and an event database under
~/.cache/Microsoft for upload, and ``import openvino`` starts openvino_telemetry (a Google
Analytics client id and a usage count under ~/intel), both on by default. The check runs in
a fresh process with an empty HOME, and without ``CI`` set (openvino_telemetry stays quiet
on CI machines, which would hide it there).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model.export_onnx import export
from tests.model_files import make_model

EMBED = """
import sys
import numpy as np
from model.onnx_encoder import load_onnx_encoder
for bulk in (False, True):  # onnxruntime; then OpenVINO too, on x86-64 (imported even where it is not used)
    encoder = load_onnx_encoder(sys.argv[1], threads=1, device="cpu", bulk=bulk)
    assert encoder is not None
    assert encoder.embed_windows(np.zeros((5, 65536), np.float32)).shape == (5, 256)
"""


def test_embedding_writes_nothing_to_the_home_folder(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = make_model(tmp_path / "m.pt")
    export(model)
    home = tmp_path / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in {"CI", "XDG_CACHE_HOME", "ORT_DISABLE_TELEMETRY"}}
    result = subprocess.run([sys.executable, "-c", EMBED, str(model)], env={**env, "HOME": str(home)},
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert sorted(str(p.relative_to(home)) for p in home.rglob("*")) == []
