"""Fixed held-out triplets the trainer scores after every epoch (loss and accuracy).

Cheaper than ``model.evaluate`` on purpose: each validation track is represented by one
excerpt (its middle window) instead of the mean over the whole song, so validation costs
one forward pass per track. Triplets are drawn once with fixed seeds, so every epoch (and a
resumed run) is scored on the same set.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from model.audio import WINDOW_SAMPLES
from model.dimensions import DIMENSIONS
from model.losses import full_space, split_blocks
from model.samplers import CategoryTripletSampler, sample_track_triplets

if TYPE_CHECKING:
    from model.datasets import AudioCache
    from model.labels import TrackLabels
    from model.train import TrainConfig

EMBED_BATCH = 32


class ValidationSet:
    def __init__(self, labels: Sequence[TrackLabels], val_rows: Sequence[int], cache: AudioCache,
                 cache_index: Sequence[int], config: TrainConfig) -> None:
        self.cache = cache
        val_labels = [labels[r] for r in val_rows]
        lengths = [cache.tracks[i].length for i in cache_index]
        # Excerpts are (cache track, start sample); the first len(val_rows) are the middles.
        excerpts = [(int(c), max(0, (n - WINDOW_SAMPLES) // 2)) for c, n in zip(cache_index, lengths, strict=True)]
        sampler = CategoryTripletSampler(val_labels)
        n = min(config.val_triplets, 25 * len(val_rows))  # a few tracks give few distinct triplets
        self.category: dict[str, np.ndarray] = {}
        if config.mode == "triplet":
            for d in DIMENSIONS:
                triplets = sampler.sample_many(d, n, seed=config.seed + 7919)
                if triplets:
                    self.category[d] = np.array(triplets)
        track = []
        for t, sa, sp, o, sn, _ in sample_track_triplets(lengths, WINDOW_SAMPLES, n, config.seed + 7919):
            base = len(excerpts)
            excerpts += [(int(cache_index[t]), sa), (int(cache_index[t]), sp), (int(cache_index[o]), sn)]
            track.append((base, base + 1, base + 2))
        self.track = np.array(track).reshape(-1, 3)
        self.excerpts = excerpts

    @torch.no_grad()
    def embed_all(self, embed: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
        out = []
        for lo in range(0, len(self.excerpts), EMBED_BATCH):
            chunk = self.excerpts[lo : lo + EMBED_BATCH]
            waves = np.stack([self.cache.excerpt(track, start) for track, start in chunk])
            out.append(embed(torch.from_numpy(waves)).cpu())
        return torch.cat(out)

    def evaluate(self, embed: Callable[[torch.Tensor], torch.Tensor], config: TrainConfig) -> tuple[float, dict[str, float]]:
        """``(validation loss, accuracy per dimension + "overall" + "track")``."""
        embeddings = self.embed_all(embed)
        blocks, full = split_blocks(embeddings), full_space(embeddings)
        accuracy, hinges = {}, []
        for d, triplets in self.category.items():
            k = DIMENSIONS.index(d)
            a, p, n = (blocks[torch.from_numpy(triplets[:, j]), k] for j in range(3))
            dap, dan = (a - p).norm(dim=1), (a - n).norm(dim=1)
            accuracy[d] = float((dap < dan).float().mean())
            hinges.append(float(torch.relu(dap - dan + config.margin).mean()))
        if accuracy:
            accuracy["overall"] = float(np.mean([accuracy[d] for d in DIMENSIONS if d in accuracy]))
        loss = float(np.mean(hinges)) if hinges else 0.0
        if len(self.track):
            a, p, n = (full[torch.from_numpy(self.track[:, j])] for j in range(3))
            dap, dan = (a - p).norm(dim=1), (a - n).norm(dim=1)
            accuracy["track"] = float((dap < dan).float().mean())
            loss += config.track_weight * float(torch.relu(dap - dan + config.margin).mean())
        return loss, accuracy
