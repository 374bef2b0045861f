"""Model files: weights plus everything needed to use them, loaded without executing pickles.

A model file (``.pt``) is a plain dict of tensors, strings, numbers, lists and dicts::

    {"format": "soundalike-model", "version": 1,
     "dims": asdict(ModelDims), "frontend": {sample_rate, n_fft, hop, n_mels, window_samples,
     mean, std}, "dimensions": ["genre", "mood", "instrument", "tempo"],
     "state_dict": {...}, "card": {...free-form model card: data, epochs, accuracy...},
     "tag_head": {...}}   # optional: the auto-tag head (model.tags)

It is read with ``torch.load(weights_only=True)`` only, so a malicious file cannot run code.
A file whose front end differs from this build's (another sample rate, hop, ...) is refused:
its embeddings would silently be wrong. ``model_id`` is the first 16 hex digits of the
file's SHA-256; the catalog stores it so vectors from different models are never mixed.
Trainers may add keys (e.g. "optimizer", "step") for resuming; loading ignores them.
"""

from __future__ import annotations

import io
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from model.atomic import write_bytes_atomic
from model.audio import (
    HOP_LENGTH,
    MEL_MEAN,
    MEL_STD,
    N_FFT,
    N_MELS,
    SAMPLE_RATE,
    WINDOW_SAMPLES,
)
from model.dimensions import DIMENSIONS
from model.model_id import model_id_of
from model.network import CSNInception, ModelDims
from model.tags import KEY as TAG_HEAD_KEY
from model.tags import TagModel

FORMAT = "soundalike-model"
VERSION = 1


class ModelFileError(Exception):
    """A model file that is missing, corrupt, or not compatible; ``str(e)`` is one line."""


def frontend_config() -> dict[str, float | int]:
    """The front-end parameters this build computes (stored in and checked against files)."""
    return {
        "sample_rate": SAMPLE_RATE,
        "n_fft": N_FFT,
        "hop": HOP_LENGTH,
        "n_mels": N_MELS,
        "window_samples": WINDOW_SAMPLES,
        "mean": MEL_MEAN,
        "std": MEL_STD,
    }


@dataclass(frozen=True)
class ModelFile:
    """What a loaded model file describes besides its weights."""

    path: Path
    dims: ModelDims
    card: dict[str, Any] = field(default_factory=dict)
    model_id: str = ""
    dimensions: tuple[str, ...] = DIMENSIONS
    version: int = VERSION
    tags: TagModel | None = None  # the auto-tag head, when the file has one


def save_model(
    path: str | os.PathLike[str],
    network: CSNInception,
    dims: ModelDims,
    card: dict[str, Any],
    extra: dict[str, Any] | None = None,
) -> str:
    """Write a model file atomically (temp file + rename); returns its ``model_id``.

    ``card`` and ``extra`` must hold only plain values (str, numbers, lists, dicts,
    tensors) so that the file stays loadable with ``weights_only=True``.
    """
    path = Path(path)
    payload: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "dims": asdict(dims),
        "frontend": frontend_config(),
        "dimensions": list(DIMENSIONS),
        "state_dict": {k: v.detach().cpu() for k, v in network.state_dict().items()},
        "card": dict(card),
    }
    payload.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    # Serialise to memory first: torch.save names the zip's root folder after the file, and
    # the model id (a hash of the bytes) should not depend on the file's name.
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    write_bytes_atomic(path, buffer.getvalue())
    return model_id_of(path)


def _read(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt file can fail in any unpickling layer
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelFileError(f"{path}: not a readable soundalike model file ({first[:120]})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not a soundalike model file (format tag missing)")
    return payload


def _check(path: Path, payload: dict[str, Any]) -> ModelDims:
    version = payload.get("version")
    if not isinstance(version, int) or version > VERSION:
        raise ModelFileError(
            f"{path}: model file version {version} is newer than this soundalike supports "
            f"({VERSION}); update soundalike"
        )
    frontend = payload.get("frontend")
    if frontend != frontend_config():
        raise ModelFileError(
            f"{path}: model expects a different audio front end ({frontend}); "
            "it cannot be used with this build"
        )
    if list(payload.get("dimensions", [])) != list(DIMENSIONS):
        raise ModelFileError(f"{path}: model dimensions {payload.get('dimensions')} "
                             f"differ from {list(DIMENSIONS)}")
    try:
        return ModelDims.from_dict(payload["dims"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid architecture description ({exc})") from exc


def load_model(
    path: str | os.PathLike[str], map_location: str | torch.device = "cpu"
) -> tuple[CSNInception, ModelFile]:
    """Load a model file into an eval-mode network; raises ``ModelFileError`` (one line)."""
    path = Path(path)
    payload = _read(path)
    dims = _check(path, payload)
    network = CSNInception(dims)
    try:
        network.load_state_dict(payload["state_dict"])
    except (KeyError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: weights do not match the architecture") from exc
    network.to(map_location).eval()
    card = payload.get("card") or {}
    try:
        tags = TagModel.from_payload(payload[TAG_HEAD_KEY]) if TAG_HEAD_KEY in payload else None
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelFileError(f"{path}: invalid auto-tag head ({exc})") from exc
    info = ModelFile(
        path=path,
        dims=dims,
        card=dict(card) if isinstance(card, dict) else {},
        model_id=model_id_of(path),
        dimensions=tuple(payload["dimensions"]),
        version=int(payload["version"]),
        tags=tags,
    )
    return network, info


def new_untrained_model(seed: int = 0, dims: ModelDims | None = None) -> CSNInception:
    """A randomly initialised network (tests, benchmarks). Deterministic for a seed.

    Its batch-norm running statistics are set from a few random windows so that eval-mode
    activations have a realistic scale (fresh BN stats would make the net nearly linear).
    """
    dims = dims or ModelDims()
    generator_state = torch.random.get_rng_state()
    try:
        torch.manual_seed(seed)
        network = CSNInception(dims)
        network.train()
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = None  # cumulative average over the calibration batches
        with torch.no_grad():
            for _ in range(2):
                network(torch.randn(4, 1, dims.n_mels, dims.n_frames))
        for module in network.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.momentum = 0.1  # PyTorch's default again, for anyone who trains it
    finally:
        torch.random.set_rng_state(generator_state)
    return network.eval()


def untrained_card(seed: int) -> dict[str, Any]:
    """Model card for ``new_untrained_model`` files: says plainly that it is untrained."""
    return {"name": f"untrained-seed{seed}", "trained": False, "note": "random weights (tests)"}
