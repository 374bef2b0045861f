"""An encoder that loads itself (and torch) only when something must be embedded.

An index run over a library whose files are unchanged or only moved embeds nothing; on a
2-core machine importing torch and loading the model was 4 of that run's 6 seconds.
``index_folders`` reads only ``model_id`` and ``info.path`` before its first batch, and
both are known from the model file itself.
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

    def __init__(self, path: Path, load: Callable[[Path], Any]) -> None:
        self.info = ModelRef(Path(path))
        self.model_id = model_id_of(path)
        self._load = load
        self._encoder: Any = None

    @property
    def loaded(self) -> bool:
        return self._encoder is not None

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this object lacks: device, embed_windows, ...
        if self._encoder is None:
            self._encoder = self._load(self.info.path)
        return getattr(self._encoder, name)
