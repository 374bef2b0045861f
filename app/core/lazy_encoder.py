"""An encoder that loads itself (and torch) only when something must be embedded.

An index run over a library whose files are unchanged or only moved embeds nothing; on a
2-core machine importing torch and loading the model was 4 of that run's 6 seconds.
``index_folders`` reads only ``model_id`` and ``info.path`` before it has files to embed,
both known from the model file itself; then ``native_rates`` before it loads (to start its
decoders first), known from where the loader will put the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.model_id import model_id_of
from model.onnx_encoder import bulk_pays


@dataclass(frozen=True)
class ModelRef:
    """What is known of a model file before it is loaded (``Encoder.info`` has the same ``path``)."""

    path: Path


class LazyEncoder:
    """Stands in for ``model.encoder.Encoder``; ``load(path, bulk)`` runs on first real use.

    ``bulk`` is ``load_onnx_encoder``'s: True unless ``expect`` was told of too few files for
    it to pay (``model.onnx_encoder.bulk_pays``). ``on_gpu``: whether a bulk load puts the
    network on a GPU (``model.onnx_encoder.gpu_expected``)."""

    def __init__(self, path: Path, load: Callable[[Path, bool], Any], on_gpu: bool = False) -> None:
        self.info = ModelRef(Path(path))
        self.model_id = model_id_of(path)
        self._load = load
        self._on_gpu = on_gpu
        self._bulk = True
        self._encoder: Any = None

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def expect(self, files: int, size: int) -> None:
        """Say, before loading, how many files (of ``size`` bytes in all) will be embedded: a
        few load on the runtime that starts fastest (onnxruntime, on the CPU)."""
        self._bulk = bulk_pays(files, size)

    @property
    def native_rates(self) -> bool:
        """``Encoder.native_rates``, known before loading: the indexer starts its decoders,
        which must know what to send, and loads the model while they decode. Where the
        expectation turns out wrong (a GPU whose driver fails), the waveforms still embed
        correctly on torch's CPU front end, only slower."""
        if self._encoder is None:
            return self._on_gpu and self._bulk
        return bool(self._encoder.native_rates)

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this object lacks: device, embed_windows, ...
        if self._encoder is None:
            self._encoder = self._load(self.info.path, self._bulk)
        return getattr(self._encoder, name)
