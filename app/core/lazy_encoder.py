"""An encoder that loads itself (and torch) only when something must be embedded.

An index run over a library whose files are unchanged or only moved embeds nothing; on a
2-core machine importing torch and loading the model was 4 of that run's 6 seconds.
``index_folders`` reads only ``model_id``, ``info.path`` and ``native_rates`` before it has
files to embed: the first two are known from the model file itself, the last from where the
loader will put the network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model.model_id import model_id_of


@dataclass(frozen=True)
class ModelRef:
    """What is known of a model file before it is loaded (``Encoder.info`` has the same ``path``)."""

    path: Path


class LazyEncoder:
    """Stands in for ``model.encoder.Encoder``; ``load(path)`` runs on first real use."""

    def __init__(self, path: Path, load: Callable[[Path], Any], on_gpu: bool = False) -> None:
        self.info = ModelRef(Path(path))
        self.model_id = model_id_of(path)
        self._load = load
        self._on_gpu = on_gpu  # what the loader expects (model.onnx_encoder.gpu_expected)
        self._encoder: Any = None

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    @property
    def native_rates(self) -> bool:
        """``Encoder.native_rates``, known before loading: the indexer starts its decoders,
        which must know what to send, and loads the model while they decode. Where the
        expectation turns out wrong (a GPU whose driver fails), the waveforms still embed
        correctly on torch's CPU front end, only slower."""
        return self._on_gpu if self._encoder is None else bool(self._encoder.native_rates)

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this object lacks: device, embed_windows, ...
        if self._encoder is None:
            self._encoder = self._load(self.info.path)
        return getattr(self._encoder, name)
