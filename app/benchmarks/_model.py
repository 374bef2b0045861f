"""The model a benchmark runs: the one asked for, else the shipped default, else a random one.

Speed does not depend on the weights, so with no trained model installed a benchmark still
runs on a full-size random-init network and says so.
"""

from __future__ import annotations

from pathlib import Path


def bench_model(requested: str | Path | None, scratch: Path) -> tuple[Path, str]:
    """(model file, how to describe it); a random-init model is written into ``scratch``."""
    from app.core.model_registry import resolve_model
    from model.checkpoint import new_untrained_model, save_model, untrained_card
    from model.network import ModelDims

    entry = resolve_model(requested)  # raises ModelChoiceError (one line) for a missing file
    path = entry.path if entry is not None else None
    if path is not None:
        return path, str(path)
    path = scratch / "untrained.pt"
    save_model(path, new_untrained_model(0), ModelDims(), untrained_card(0))
    return path, "random init, full size (no model file installed; speed does not depend on weights)"
