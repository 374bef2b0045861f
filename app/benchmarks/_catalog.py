"""Synthetic catalogs for benchmarks: vectors shaped like a trained model's, in a real SQLite file.

Public API::

    synthetic_tracks(n, seed) -> (n, 256) float16      # block-normalised, clustered per dimension
    PoolWindows(tracks, windows, seed)                   # ids -> (windows, 256) float16, on demand
    build_catalog(path, n, model_path, windows=60, seed=0) -> Path   # reused when it matches

Every 64-d block is one of 32 cluster centres plus noise, chosen independently per
dimension (disentangled), block-normalised; a track's windows are its vector plus one of 256
fixed noise patterns. ``build_catalog`` writes the tracks (paths ``/bench/0000042.flac``,
titles, albums, BPMs, durations of ``windows`` x 2.97 s) through ``Catalog.write_batch``
under ``model_path``'s id and notes that model's path, so ``soundalike search --db PATH``
picks that model as it would for a real library. A finished catalog records its recipe in
``meta`` and is reused by the next run with the same one (100k tracks take minutes to write).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

RECIPE_KEY = "bench_recipe"


def synthetic_tracks(n: int, seed: int, centres: int = 32, noise: float = 0.6) -> np.ndarray:
    """``(n, 256)`` float16 block-normalised vectors with per-dimension cluster structure."""
    from model.dimensions import BLOCK_SIZE, normalize_blocks

    rng = np.random.default_rng(seed)
    centre = rng.standard_normal((4, centres, BLOCK_SIZE)).astype(np.float32)
    out = np.empty((n, 256), dtype=np.float16)
    for start in range(0, n, 65536):
        m = min(65536, n - start)
        picks = rng.integers(0, centres, size=(m, 4))
        block = centre[np.arange(4)[None, :], picks]  # (m, 4, 64)
        block = block + noise * rng.standard_normal((m, 4, BLOCK_SIZE), dtype=np.float32)
        out[start : start + m] = normalize_blocks(block.reshape(m, 256))
    return out


class PoolWindows:
    """Window vectors made on demand: track vector + one of 256 fixed noise patterns."""

    def __init__(self, tracks: np.ndarray, windows: int, seed: int, noise: float = 0.5) -> None:
        rng = np.random.default_rng(seed + 1)
        self.tracks = tracks
        self.pool = (noise / 8 * rng.standard_normal((256, windows, 256))).astype(np.float32)

    def __call__(self, ids):  # noqa: ANN001, ANN204
        from model.dimensions import normalize_blocks

        return {
            int(i): normalize_blocks(self.tracks[i].astype(np.float32) + self.pool[i % 256]).astype(np.float16)
            for i in ids
        }


def build_catalog(
    path: str | os.PathLike[str], n: int, model_path: str | os.PathLike[str], *,
    windows: int = 60, seed: int = 0, progress: Callable[[int], None] | None = None,
) -> Path:
    """A catalog of ``n`` synthetic tracks embedded "by" ``model_path`` (see module doc)."""
    from app.core.catalog import Catalog, TrackRecord
    from model.model_id import model_id_of

    path = Path(path)
    model_id = model_id_of(model_path)
    recipe = json.dumps({"n": n, "windows": windows, "seed": seed, "model_id": model_id})
    if path.is_file():
        with Catalog.open(path) as catalog:
            if catalog.get_meta(RECIPE_KEY) == recipe:
                return path
        for stale in path.parent.glob(path.name + "*"):
            stale.unlink()
    tracks = synthetic_tracks(n, seed)
    make_windows = PoolWindows(tracks, windows, seed)
    rng = np.random.default_rng(seed + 2)
    bpms = rng.uniform(70, 170, n).round(1)
    with Catalog.open(path) as catalog:
        for start in range(0, n, 2000):
            ids = range(start, min(n, start + 2000))
            found = make_windows(ids)
            catalog.write_batch([
                TrackRecord(
                    f"/bench/{i:07d}.flac", 1000 + i, i, windows * 2.97,
                    {"title": f"Track {i}", "album": f"Album {i // 12}", "bpm": float(bpms[i])},
                    model_id, track=tracks[i], windows=found[i], fingerprint=f"bench-{seed}-{i}",
                )
                for i in ids
            ])  # fmt: skip
            if progress is not None:
                progress(ids[-1] + 1)
        catalog.note_model_path(model_id, str(Path(model_path).resolve()))
        catalog.set_meta(RECIPE_KEY, recipe)
    return path
