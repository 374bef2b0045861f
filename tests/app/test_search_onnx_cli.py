"""`soundalike search` on the model's ONNX export: no torch import, the same results."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.cli import main
from tests.app.library_helpers import make_library, make_model

ROOT = Path(__file__).resolve().parents[2]
# Runs the CLI in a fresh interpreter and says afterwards whether torch was imported.
PROBE = "import sys; from app.cli import main; code = main(sys.argv[1:]); print('TORCH', 'torch' in sys.modules); sys.exit(code)"


def test_search_runs_on_onnx_without_torch_and_agrees_with_torch(tmp_path, capsys) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    from model.export_onnx import export

    model = make_model(tmp_path / "m.pt")
    paths = make_library(tmp_path / "music", n=4, seconds=9)
    db = tmp_path / "lib.db"
    assert main(["index", str(tmp_path / "music"), "--db", str(db), "--model", str(model), "--workers", "0"]) == 0
    args = ["search", str(paths[1]), "--db", str(db), "--model", str(model), "-k", "4", "--json", "--include-self"]

    def run(runtime: str) -> tuple[list, bool]:
        env = {**os.environ, "SOUNDALIKE_RUNTIME": runtime}
        done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True,
                              cwd=ROOT, env=env, timeout=300, check=False)  # fmt: skip
        assert done.returncode == 0, done.stderr
        body, _, flag = done.stdout.rpartition("TORCH ")
        return json.loads(body), flag.strip() == "True"

    plain, used_torch = run("auto")
    assert used_torch  # no .onnx yet: torch
    export(model)
    fast, used_torch = run("auto")
    assert not used_torch
    assert [r["path"] for r in fast] == [r["path"] for r in plain]
    assert [r["score"] for r in fast] == pytest.approx([r["score"] for r in plain], abs=1e-3)
    assert run("torch")[1]  # SOUNDALIKE_RUNTIME=torch forces torch
