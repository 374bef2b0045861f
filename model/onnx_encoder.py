"""The search-time encoder on ONNX Runtime: a query embedded without importing torch.

Public API::

    onnx_path(model_path) -> Path                       # "default.pt" -> "default.onnx"
    load_onnx_encoder(model_path, threads=None, device="auto", bulk=False) -> OnnxEncoder | None

Why: a CLI search spent ~2 s of its time importing torch, to embed a 30-s clip (10
windows, ~0.1 s of network). ``model.export_onnx`` writes the network of a model file as
ONNX next to it, with the model file's id in its metadata; the log-mel front end runs in
numpy (model.mel). ``load_onnx_encoder`` returns None, and the caller loads torch, when
onnxruntime is not installed, there is no ``.onnx`` beside the model, or its recorded id
is not the model file's (a retrained ``default.pt`` whose export was not re-run): an
ONNX file is never used for a model it was not made from.

``OnnxEncoder`` answers what a search and an index run ask of ``model.encoder.Encoder``
(``model_id``, ``info.path``, ``info.tags``, ``batch_windows``, ``native_rates``,
``embed_windows``, ``embed_samples``, ``embed_files``) in float32 on the CPU, and
``embed_mel`` for log-mel computed elsewhere (the indexer's decoder workers). Indexing uses
it too (``bulk``: not where a GPU may be, which torch uses): on one thread its network
cost 0.8 ms of CPU per second of audio against torch's 1.5-1.8 ms in bf16 and 2.0 ms in
float32 (onnxruntime's fused convolutions and pooling; ``soundalike bench index`` prints
the stages), and its embeddings match torch's bf16 and float32 ones to cosine >= .999
(tests/app/core/test_indexing_features.py). On a CPU with bfloat16 units, ``bulk`` runs the
same file on OpenVINO in bf16 instead (0.35 ms: model.openvino_network), once it has
embedded a probe batch as onnxruntime does (``PROBE_AGREEMENT``). Training stays on torch.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model.audio import N_FRAMES, N_MELS, WINDOW_SAMPLES, AudioError, split_windows
from model.dimensions import EMBEDDING_SIZE, lowest_block_agreement, normalize_blocks
from model.embedding import TrackEmbedding, available_cores, track_vector
from model.mel import log_mel
from model.model_id import model_id_of
from model.openvino_network import (  # imports openvino only when called
    BATCH_SIZES,
    OpenVinoNetwork,
    load_openvino_network,
)
from model.prefetch import embed_prefetched
from model.tags import TagModel

log = logging.getLogger(__name__)

SOURCE_ID_KEY = "soundalike.source_model_id"  # metadata: model_id of the .pt it was made from
TAG_HEAD_KEY = "soundalike.tag_head"  # metadata: the model file's tag head as JSON (optional)
ORT_TELEMETRY_ENV = "ORT_DISABLE_TELEMETRY"  # onnxruntime's own switch ("1": no telemetry)
RUNTIME_ENV = "SOUNDALIKE_RUNTIME"  # "torch": never use an ONNX export (comparisons, debugging)
BATCH_WINDOWS = 4  # windows per run: fewer than the torch encoder's CPU batch (8) keep the activations smaller
# From how many files, or bytes of them, ``bulk`` loading pays (``bulk_pays``).
BULK_MIN_FILES = 8
BULK_MIN_BYTES = 64 << 20  # an hour of Vorbis, ten minutes of FLAC
PROBE_AGREEMENT = 0.999  # lowest block cosine to onnxruntime's float32 on the probe for OpenVINO to be used


@dataclass(frozen=True)
class OnnxModelInfo:
    """What the app reads of ``Encoder.info``: the model file's path and its tag head."""

    path: Path  # the .pt file (catalogs note it as the model that embedded them)
    onnx_path: Path
    tags: TagModel | None


def onnx_path(model_path: str | os.PathLike[str]) -> Path:
    return Path(model_path).with_suffix(".onnx")


def source_model_id(path: str | os.PathLike[str]) -> str | None:
    """The model id recorded in an ONNX file's metadata (None: onnxruntime or the key is missing)."""
    session = _session(Path(path), threads=1)
    return None if session is None else session.get_modelmeta().custom_metadata_map.get(SOURCE_ID_KEY)


def gpu_possible() -> bool:
    """Could torch find a CUDA GPU here? Answered without importing torch (2 s): an NVIDIA
    driver's device node on Linux, the driver's DLL on Windows; never on macOS."""
    if sys.platform.startswith("linux"):
        return os.path.exists("/dev/nvidiactl")
    if sys.platform == "win32":
        return os.path.exists(os.path.join(os.environ.get("SystemRoot", r"C:\Windows"), "System32", "nvcuda.dll"))
    return False


def gpu_expected(device: str) -> bool:
    """Will bulk embedding (indexing, ``embed``) on ``device`` run on a GPU, that is on torch?
    "cuda" asks for one; "auto" takes one where a driver is (``gpu_possible``). Known before
    anything loads: the indexer's decoders must know whether to send waveforms or log-mel."""
    return device.startswith("cuda") or (device == "auto" and gpu_possible())


def bulk_pays(files: int, size: int) -> bool:
    """Does loading for bulk work (OpenVINO where the CPU has bf16 units) pay for embedding
    ``files`` files of ``size`` bytes in all? Its start costs about 0.6 s more CPU than
    onnxruntime's, and its network saves 0.45 ms of CPU per second of audio: on Vorbis songs
    (``soundalike index``, 2 cores) onnxruntime was quicker for 1 to 4 files (0.2-0.5 s
    less wall time), even at 8 (1200 s of audio), and slower from 16 (2400 s: 0.3-0.5 s)."""
    return files >= BULK_MIN_FILES or size >= BULK_MIN_BYTES


def load_onnx_encoder(
    model_path: str | os.PathLike[str], threads: int | None = None, device: str = "auto",
    bulk: bool = False, spin: bool = True,
) -> OnnxEncoder | None:
    """The ONNX twin of ``model_path``, or None when it cannot stand in for it (module doc),
    when ``device`` asks for CUDA (or is "auto", ``bulk`` is set and a GPU may be present:
    long jobs run faster there), or when ``$SOUNDALIKE_RUNTIME`` is ``torch``.

    ``bulk``: many windows to embed (indexing, ``embed``): on OpenVINO in bf16 where the CPU
    has bfloat16 units and the probe agrees (module doc), else on onnxruntime.

    ``spin=False``: onnxruntime's threads sleep between runs rather than spin-wait for the
    next one; for a few runs with other work between them (one search's query: the front
    end runs between batches), where the spinning only takes a core from that work (a CLI
    search on 100k tracks: 0.18 s less CPU, the same wall time)."""
    if device.startswith("cuda") or os.environ.get(RUNTIME_ENV, "") == "torch":
        return None
    if bulk and gpu_expected(device):
        return None
    model_path = Path(model_path)
    path = onnx_path(model_path)
    if not path.is_file():
        return None
    session = _session(path, threads or available_cores(), spin)
    if session is None:
        return None
    meta = session.get_modelmeta().custom_metadata_map
    model_id = model_id_of(model_path)
    if meta.get(SOURCE_ID_KEY) != model_id:
        log.info("%s was exported from model %s, not %s; using torch", path, meta.get(SOURCE_ID_KEY), model_id)
        return None
    tags = TagModel.from_payload(json.loads(meta[TAG_HEAD_KEY])) if TAG_HEAD_KEY in meta else None
    encoder = OnnxEncoder(session, OnnxModelInfo(model_path, path, tags), model_id)
    if bulk:
        encoder.network = _openvino_network(path, threads or available_cores(), encoder.network) or encoder.network
    return encoder


def _openvino_network(path: Path, threads: int, reference: OnnxRuntimeNetwork) -> OpenVinoNetwork | None:
    """``path`` on OpenVINO in bf16 (model.openvino_network), if the CPU has bf16 units and
    it embeds a probe of seeded noise as ``reference`` does (block cosine >=
    ``PROBE_AGREEMENT``): a guard against a file or a CPU where the split or the rounding
    goes wrong, at the cost of a few windows. The probe is one batch of each compiled size
    (4 + 1 windows), so each of OpenVINO's requests runs on it: the batch-1 one embeds
    every file's last windows."""
    network = load_openvino_network(path, threads)
    if network is None:
        return None
    probe = np.random.default_rng(0).standard_normal((sum(BATCH_SIZES), 1, N_MELS, N_FRAMES)).astype(np.float32)
    agreement = lowest_block_agreement(normalize_blocks(network(probe)), normalize_blocks(reference(probe)))
    if not agreement >= PROBE_AGREEMENT:
        log.info("OpenVINO's %s embeddings differ from onnxruntime's (block cosine %.4f); using onnxruntime",
                 network.precision, agreement)
        return None
    return network


def _session(path: Path, threads: int, spin: bool = True) -> Any:
    # onnxruntime's Linux and macOS wheels collect telemetry from 1.2x on (1DS: a device id
    # and an event database under ~/.cache/Microsoft, uploaded when online) unless this is
    # set before it starts. A user who wants it sets the variable to 0.
    os.environ.setdefault(ORT_TELEMETRY_ENV, "1")
    try:
        import onnxruntime
    except Exception as exc:  # noqa: BLE001 - absent, or a bundle missing one of its libraries
        if not isinstance(exc, ImportError):
            log.warning("onnxruntime cannot load (%s); using torch", exc)
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: its warnings would reach the CLI's stderr
    if not spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types for a bad file
        log.warning("cannot load %s (%s); using torch", path, str(exc).splitlines()[0] if str(exc) else exc)
        return None


class OnnxRuntimeNetwork:
    """The exported graph on an onnxruntime session: log-mel windows -> embeddings."""

    runtime = "onnx"
    precision = "fp32"

    def __init__(self, session: Any) -> None:
        self.session = session

    @property
    def threads(self) -> int:
        return self.session.get_session_options().intra_op_num_threads

    def __call__(self, mel: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"mel": mel})[0]


class OnnxEncoder:
    """Embeds 22 050 Hz audio with an exported network (on the CPU). Not thread-safe.

    ``network`` runs the exported graph: onnxruntime's session in float32, or for bulk work
    the same file on OpenVINO (``load_onnx_encoder``)."""

    device = "cpu"
    native_rates = False  # 22 050 Hz only: the numpy front end has the one filterbank
    batch_windows = BATCH_WINDOWS

    def __init__(self, session: Any, info: OnnxModelInfo, model_id: str) -> None:
        self.info = info
        self.model_id = model_id
        # The session lives only in its network: one replaced by OpenVINO frees it (~25 MB).
        self.network: OnnxRuntimeNetwork | OpenVinoNetwork = OnnxRuntimeNetwork(session)

    @property
    def precision(self) -> str:
        return self.network.precision

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """``(n, WINDOW_SAMPLES)`` waveforms -> ``(n, 256)`` float32, block-normalised."""
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2 or windows.shape[1] != WINDOW_SAMPLES:  # 44.1 kHz ones are torch's
            raise ValueError("embed_windows expects (n, WINDOW_SAMPLES) windows at 22 050 Hz")
        return self._embed(windows, log_mel)

    def embed_mel(self, mel: np.ndarray) -> np.ndarray:
        """``(n, 1, N_MELS, N_FRAMES)`` log-mel (``model.mel.log_mel``, computed elsewhere: the
        indexer's decoder workers) -> ``(n, 256)`` float32, block-normalised."""
        return self._embed(np.asarray(mel, dtype=np.float32), lambda batch: batch)

    def _embed(self, inputs: np.ndarray, front_end: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
        if len(inputs) == 0:
            return np.zeros((0, EMBEDDING_SIZE), dtype=np.float32)
        parts = [
            self.network(front_end(inputs[i : i + BATCH_WINDOWS]))
            for i in range(0, len(inputs), BATCH_WINDOWS)
        ]
        return normalize_blocks(np.concatenate(parts))

    def embed_samples(self, samples: np.ndarray) -> TrackEmbedding:
        """Mono ``SAMPLE_RATE`` samples -> window vectors and track vector."""
        windows, padded = split_windows(samples)
        vectors = self.embed_windows(windows)
        return TrackEmbedding(vectors, track_vector(vectors), padded)


    def embed_files(
        self, paths: Sequence[str | os.PathLike[str]], decode_workers: int | None = None
    ) -> Iterator[tuple[str, TrackEmbedding | AudioError]]:
        """As ``model.encoder.Encoder.embed_files``: files are decoded, and their log-mel
        computed, in ``decode_workers`` processes (default: one per core; the network, on the
        threads set at loading, needs about a third of one) while this process runs the
        network (model.mel_pieces). A single file is decoded in a thread instead: starting
        processes would cost more than it saves."""
        if len(paths) <= 1:
            yield from embed_prefetched(self.embed_windows, paths, self.batch_windows, 1)
            return
        from model.mel_pieces import embed_in_processes  # multiprocessing: not on a search's path

        yield from embed_in_processes(self.embed_mel, paths, decode_workers or available_cores())


def describe(encoder: OnnxEncoder) -> str:
    network = encoder.network
    return (f"runtime={network.runtime} device=cpu precision={network.precision} threads={network.threads} "
            f"model={encoder.model_id} ({encoder.info.onnx_path.name})")
