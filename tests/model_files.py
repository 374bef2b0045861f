"""Random-init model files for tests: narrow (fast to embed), same architecture otherwise.

A random-init network still maps the same audio to the same vectors, which is all the
encoder, CLI and index/search tests need.
"""

from __future__ import annotations

from pathlib import Path

from model.network import ModelDims

SMALL = ModelDims(stem_channels=16, widths=(16, 16, 24, 24, 32, 32))


def make_model(path: Path, seed: int = 0, dims: ModelDims = SMALL) -> Path:
    import torch

    from model.checkpoint import new_untrained_model, save_model, untrained_card

    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # two OpenMP threads crawl on a loaded 2-core machine
    try:
        save_model(path, new_untrained_model(seed, dims), dims, untrained_card(seed))
    finally:
        torch.set_num_threads(previous)
    return path
