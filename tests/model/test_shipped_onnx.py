"""The shipped ONNX file is the export of the shipped model (re-run `make onnx` after replacing
resources/models/default.pt); the app would otherwise ignore it and import torch."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.model_id import model_id_of
from model.onnx_encoder import onnx_path, source_model_id

DEFAULT = Path(__file__).resolve().parents[2] / "resources" / "models" / "default.pt"


def test_shipped_onnx_is_the_export_of_the_shipped_model() -> None:
    pytest.importorskip("onnxruntime")
    if not DEFAULT.is_file():
        pytest.skip("no shipped model")
    assert onnx_path(DEFAULT).is_file(), "resources/models/default.onnx is missing: run `make onnx`"
    assert source_model_id(onnx_path(DEFAULT)) == model_id_of(DEFAULT), (
        "default.onnx was exported from another model: run `make onnx`"
    )
