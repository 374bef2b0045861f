"""Reading the teacher's per-segment tag caches (written by ``model.training.tag_corpus``).

Kept apart from the tagging job so that the trainer (``model.train``, which the app's
fine-tuning imports) can read caches without importing the teacher network.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SILENCE_RMS = 0.003  # about -50 dBFS: below this a segment's tags are the taggers' default guesses


def load_tags(path: Path, min_rms: float = SILENCE_RMS) -> dict[str, np.ndarray]:
    """A cache file's ``msd``, ``mtt``, ``start_s`` and ``rms``, without its silent segments."""
    with np.load(path) as cached:
        keep = cached["rms"] >= min_rms
        return {key: cached[key][keep] for key in ("msd", "mtt", "start_s", "rms")}
