"""OpenVINO for bulk embedding: the same embeddings as onnxruntime's float32, used only when it
can run the file and agrees on the probe, never for searches."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from model.dimensions import lowest_block_agreement
from model.onnx_encoder import describe, load_onnx_encoder
from model.openvino_network import load_openvino_network
from tests.synth_audio import music_like

pytest.importorskip("onnxruntime")
openvino = pytest.importorskip("openvino")

SHIPPED = Path(__file__).resolve().parents[2] / "resources" / "models" / "default.pt"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):  # noqa: ANN201
    """A small random-init model with the tempo branch, and its ONNX export beside it."""
    pytest.importorskip("onnx")
    from model.export_onnx import export
    from tests.model_files import make_model

    path = make_model(tmp_path_factory.mktemp("ov") / "m.pt", seed=0)
    export(path)
    return path


def bf16_units() -> bool:
    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_split_network_embeds_as_onnxruntime(exported, precision) -> None:
    """The head (in ``precision``; float32 where the CPU has no bf16 units) plus the float32
    tempo branch, added as the network's forward does, give onnxruntime's embeddings."""
    audio = music_like(20.0, seed=5, sr=22050)
    reference = load_onnx_encoder(exported, threads=1)
    bulk = load_onnx_encoder(exported, threads=1)
    bulk.network = load_openvino_network(exported.with_suffix(".onnx"), threads=1, precision=precision)
    assert bulk.network is not None and bulk.network._tempo is not None
    expected, got = reference.embed_samples(audio).windows, bulk.embed_samples(audio).windows
    assert got.shape == expected.shape == (6, 256)
    assert lowest_block_agreement(got, expected) >= 0.999


def test_shipped_model_in_bf16_keeps_every_block_on_music() -> None:
    """The issue's bar for any change to the features: cosine >= .999 to today's embeddings,
    every window and every dimension, here on 60 s of music-like audio with the shipped model."""
    from model.onnx_encoder import onnx_path

    if not onnx_path(SHIPPED).is_file():
        pytest.skip("no shipped ONNX model")
    audio = np.concatenate([music_like(30.0, seed=seed, sr=22050) for seed in (1, 2)])
    reference = load_onnx_encoder(SHIPPED, threads=1)
    bulk = load_onnx_encoder(SHIPPED, threads=1, device="cpu", bulk=True)
    if not bf16_units():
        assert bulk.network.runtime == "onnx"  # OpenVINO pays only with bf16 units
        pytest.skip("this CPU has no bfloat16 units")
    assert "runtime=openvino device=cpu precision=bf16 threads=1" in describe(bulk)
    expected, got = reference.embed_samples(audio).windows, bulk.embed_samples(audio).windows
    assert lowest_block_agreement(got, expected) >= 0.999


def test_searches_stay_on_onnxruntime(exported) -> None:
    assert load_onnx_encoder(exported, threads=1).network.runtime == "onnx"


def test_a_file_without_the_head_node_is_not_used(tmp_path) -> None:
    """Another export (another network's node names) falls back to onnxruntime."""
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    node = helper.make_node("Identity", ["mel"], ["embedding"])
    graph = helper.make_graph([node], "g", [helper.make_tensor_value_info("mel", TensorProto.FLOAT, [1, 4])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 4])])  # fmt: skip
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    assert load_openvino_network(path, threads=1, precision="fp32") is None


def test_no_openvino_means_onnxruntime(exported, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "openvino", None)  # import fails as if not installed
    assert load_onnx_encoder(exported, threads=1, device="cpu", bulk=True).network.runtime == "onnx"


def test_a_probe_that_disagrees_means_onnxruntime(exported, monkeypatch, caplog) -> None:
    """However it goes wrong (a CPU's rounding, a graph cut at the wrong node), an OpenVINO
    network that does not embed the probe as onnxruntime does is not used, and the log says so
    (at info level: nothing for the user to do, indexing is only slower)."""
    import model.onnx_encoder
    from model.openvino_network import OpenVinoNetwork

    class Wrong(OpenVinoNetwork):
        def __call__(self, mel: np.ndarray) -> np.ndarray:
            return super().__call__(mel)[:, ::-1].copy()

    def load_wrong(path, threads, precision=None):  # noqa: ANN001, ANN202
        right = load_openvino_network(path, threads, "fp32")
        return Wrong(right._trunks, right._tempo, "bf16", threads)

    monkeypatch.setattr(model.onnx_encoder, "load_openvino_network", load_wrong)
    with caplog.at_level(logging.INFO):
        encoder = load_onnx_encoder(exported, threads=1, device="cpu", bulk=True)
    assert encoder.network.runtime == "onnx"
    assert "differ from onnxruntime's" in caplog.text


def test_the_probe_checks_every_compiled_batch_size(exported, monkeypatch) -> None:
    """The batch-1 request (every file's last windows) is checked as well as the batch-4 one:
    a network whose batch-1 request alone goes wrong is not used."""
    import model.onnx_encoder
    from model.openvino_network import BATCH_SIZES

    class WrongInfer:
        def __init__(self, request) -> None:  # noqa: ANN001
            self.request = request

        def infer(self, inputs, **shared):  # noqa: ANN001, ANN003, ANN201
            return [np.asarray(self.request.infer(inputs, **shared)[0])[:, ::-1].copy()]

    def load_wrong_single(path, threads, precision=None):  # noqa: ANN001, ANN202
        network = load_openvino_network(path, threads, "fp32")
        network._trunks[min(BATCH_SIZES)] = WrongInfer(network._trunks[min(BATCH_SIZES)])
        return network

    monkeypatch.setattr(model.onnx_encoder, "load_openvino_network", load_wrong_single)
    assert load_onnx_encoder(exported, threads=1, device="cpu", bulk=True).network.runtime == "onnx"


def test_a_cpu_plugin_that_cannot_load_means_onnxruntime(exported, monkeypatch) -> None:
    """OpenVINO installed but its CPU plugin failing (a bundle missing it, a CPU it does not
    support) is a fallback to onnxruntime, not a failed index run."""
    import model.openvino_network

    class NoCpuPlugin:
        def get_property(self, device, name):  # noqa: ANN001, ANN202
            raise RuntimeError(f"Device with '{device}' name is not registered in the OpenVINO Runtime")

    monkeypatch.setattr(model.openvino_network, "_core", NoCpuPlugin)
    assert load_openvino_network(exported.with_suffix(".onnx"), threads=1) is None
    assert load_onnx_encoder(exported, threads=1, device="cpu", bulk=True).network.runtime == "onnx"


def test_an_encoder_on_openvino_keeps_no_onnxruntime_session(exported, monkeypatch) -> None:
    """The probe's onnxruntime session is let go once OpenVINO is chosen (~25 MB of an index run)."""
    import gc
    import weakref

    import model.onnx_encoder

    sessions = []
    make_session = model.onnx_encoder._session
    monkeypatch.setattr(model.onnx_encoder, "_session",
                        lambda *a, **kw: sessions.append(s := make_session(*a, **kw)) or s)  # fmt: skip
    monkeypatch.setattr(model.onnx_encoder, "load_openvino_network",
                        lambda path, threads, precision=None: load_openvino_network(path, threads, "fp32"))  # fmt: skip
    encoder = load_onnx_encoder(exported, threads=1, device="cpu", bulk=True)
    assert encoder.network.runtime == "openvino" and len(sessions) == 1
    session = weakref.ref(sessions.pop())
    gc.collect()
    assert session() is None
