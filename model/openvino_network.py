"""The exported network on OpenVINO in bfloat16, for embedding many files (indexing, ``embed``).

Public API::

    load_openvino_network(onnx_file, threads, precision=None) -> OpenVinoNetwork | None
    OpenVinoNetwork(mel) -> (batch, 256) embeddings (each block normalised by the caller)

Why: on CPUs with bfloat16 units (Intel AMX or AVX-512 BF16: Xeon Sapphire Rapids and later,
AMD Zen 4) OpenVINO runs the convolutions in bf16 at 0.35 ms of CPU per second of audio on one
thread, against onnxruntime's 0.84 in float32; the network was over a third of an index run's
CPU. The embeddings stay within block cosine .9999 of float32 (the shipped model, every block of
every window: .99999 at worst on six demo tracks); the tests hold them to .999
(tests/model/test_openvino_network.py).

The exception is the tempo branch: its spectral flux is the difference of neighbouring log-mel
frames, and with the input rounded to bf16's 8-bit mantissa the tempo block of some windows
fell to cosine .990. So the branch runs as a second model in float32 on the same input, and its
output is added to the head's tempo columns here, as ``CSNInception.forward`` does. (OpenVINO's
CPU plugin does not honour per-node "keep precision" marks under a bf16 hint.) The two models
are cut from the one ONNX file at the nodes the torch export names after the modules:
``/head/Gemm`` and the tempo MLP's last ``Gemm``; a file without them is not used here.

Only where the CPU has bf16 units (``precision=None``): elsewhere onnxruntime's float32 is the
known quantity and this module is not used. Searches stay on onnxruntime: a query is a few
windows, and OpenVINO's start (0.4 s of CPU) would cost more than it saves.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import numpy as np

from model.dimensions import EMBEDDING_SIZE, block_slice

log = logging.getLogger(__name__)

HEAD_NODE = "/head/Gemm"
# Static batch shapes, compiled once each: 4 windows (the ONNX encoder's batch), and 1 for the
# last few of a file. Static shapes and flushing denormals cost 16 % less CPU than a dynamic
# batch (0.35 against 0.41 ms per audio-s with other work between runs, as in the indexer).
BATCH_SIZES = (4, 1)
TEMPO_PREFIX = "/tempo/mlp/"
SHARED = {"share_inputs": True, "share_outputs": True}  # no copies in or out of a request


class OpenVinoNetwork:
    """The network's pre-normalisation embedding for a batch of log-mel windows. Not thread-safe."""

    runtime = "openvino"

    def __init__(self, trunks: dict[int, Any], tempo: Any | None, precision: str, threads: int) -> None:
        self._trunks = trunks  # OpenVINO infer requests by their static batch size, largest first
        self._tempo = tempo
        self.precision, self.threads = precision, threads
        self._tempo_columns = block_slice("tempo")

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        # The requests read ``mel`` and write their output in place (``SHARED``; each output is
        # copied out before the next run): copying them cost 4 % of the network's CPU.
        mel = np.ascontiguousarray(mel, dtype=np.float32)
        embedding = np.empty((len(mel), EMBEDDING_SIZE), np.float32)
        done = 0
        for size, trunk in self._trunks.items():  # whole batches, then the rest one window at a time
            while len(mel) - done >= size:
                embedding[done : done + size] = trunk.infer({0: mel[done : done + size]}, **SHARED)[0]
                done += size
        if self._tempo is not None:
            embedding[:, self._tempo_columns] += self._tempo.infer({0: mel}, **SHARED)[0]
        return embedding


def load_openvino_network(onnx_file: Path, threads: int, precision: str | None = None) -> OpenVinoNetwork | None:
    """``onnx_file``'s network on OpenVINO with ``threads`` threads, or None: OpenVINO is not
    installed or cannot read the file, the file lacks the head node, or (``precision`` None)
    the CPU has no bf16 units. ``precision`` "bf16" or "fp32" forces one (tests, comparisons)."""
    core = _core()
    if core is None:
        return None
    try:
        if precision is None:  # inside the try: the CPU plugin loads here (and may not)
            if "BF16" not in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES"):
                return None
            precision = "bf16"
        model = core.read_model(str(onnx_file))
        names = [op.get_friendly_name() for op in model.get_ordered_ops()]
        if HEAD_NODE not in names:
            log.info("%s has no %s node; not using OpenVINO", onnx_file, HEAD_NODE)
            return None
        tempo_names = [name for name in names if name.startswith(TEMPO_PREFIX) and name.endswith("/Gemm")]
        trunks = {size: _compile(core, model, HEAD_NODE, precision, threads, size) for size in BATCH_SIZES}
        tempo = _compile(core, model, tempo_names[-1], "f32", threads) if tempo_names else None
    except Exception as exc:  # noqa: BLE001 - OpenVINO raises its own types for a file it cannot take
        log.warning("OpenVINO cannot run %s (%s); using onnxruntime", onnx_file, str(exc).partition("\n")[0] or type(exc).__name__)
        return None
    return OpenVinoNetwork(trunks, tempo, "bf16" if precision == "bf16" else "fp32", threads)


def _compile(core: Any, model: Any, node: str, precision: str, threads: int, batch: int | None = None) -> Any:
    """An infer request for the part of ``model`` that computes ``node``'s output from the
    input, for ``batch`` windows at a time (None: any number). Cut from a copy: a reshape
    would change the shared input of every part."""
    import openvino

    model = model.clone()
    output = next(op for op in model.get_ordered_ops() if op.get_friendly_name() == node).output(0)
    part = openvino.Model([output], model.get_parameters(), node)
    if batch is not None:
        shape = part.get_parameters()[0].get_partial_shape()
        shape[0] = batch
        part.reshape(shape)
    config = {
        "INFERENCE_PRECISION_HINT": "bf16" if precision == "bf16" else "f32",
        "INFERENCE_NUM_THREADS": threads,
        "PERFORMANCE_HINT": "LATENCY",
        "ENABLE_CPU_PINNING": False,  # the decoder processes share these cores
        "CPU_DENORMALS_OPTIMIZATION": True,  # flush denormals (ReLU outputs near 0): faster, same results to 1e-7
    }
    return core.compile_model(part, "CPU", config).create_infer_request()


def _core() -> Any:
    # ``import openvino`` imports its model converter (openvino.tools.ovc), whose import starts
    # openvino_telemetry: on by default, it writes a client id to ~/intel and counts every run
    # for Google Analytics. Only the runtime is used here: the converter's import is blocked
    # (openvino catches the ImportError), which also saves 70 ms of the import.
    sys.modules.setdefault("openvino.tools.ovc", None)  # type: ignore[arg-type]
    try:
        import openvino

        return openvino.Core()
    except Exception as exc:  # noqa: BLE001 - absent, or a bundle missing one of its libraries
        if not isinstance(exc, ImportError):
            log.warning("OpenVINO cannot load (%s); using onnxruntime", exc)
        return None
