"""Held-out triplet accuracy in the layout of the paper's Tables 1 and 2.

* Category triplets (genre, mood, instrument, tempo) are drawn with a fixed seed from the
  held-out tracks by the training rules (``model.samplers``) and scored on *full songs*: a
  track's embedding is the mean of its non-overlapping window embeddings (each 64-d block
  re-normalised, as the app stores it). A triplet scores 1 when the anchor is closer to the
  positive than to the negative.
* "Sub-dimensions" compares only the dimension's block; "All-dimensions" the whole vector
  (normalised blocks concatenated: the app's search with equal slider weights).
* Track triplets (Table 2) use 3-s excerpts: anchor and positive from one track overlapping
  at most 50 %, the negative from another track, compared in the full space.

Rows can come from any model file, an untrained network of the same shape, and the MFCC-VQ
baseline (which has no sub-dimension space, as in the paper).
"""

from __future__ import annotations

from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch

from model.audio import (
    SAMPLE_RATE,
    WINDOW_SAMPLES,
    AudioError,
    audio_duration,
    load_audio,
    split_windows,
)
from model.dimensions import BLOCK_SIZE, DIMENSIONS, normalize_blocks
from model.features import LogMel
from model.labels import TrackLabels
from model.samplers import CategoryTripletSampler, sample_track_triplets

DEFAULT_TRIPLETS = 1000  # per dimension and for track triplets (the paper used 40 000)
MAX_TRACK_SECONDS = 600.0  # a "full song" is capped at 10 minutes
EMBED_BATCH = 32


class Embedder(Protocol):
    name: str
    sub_dimensions: bool  # whether per-dimension blocks exist

    def track(self, samples: np.ndarray) -> np.ndarray: ...

    def excerpts(self, windows: np.ndarray) -> np.ndarray: ...


class NetworkEmbedder:
    """Window embeddings from a CSN network; tracks are block-renormalised window means."""

    sub_dimensions = True

    def __init__(self, name: str, network: torch.nn.Module, device: str | torch.device = "cpu") -> None:
        self.name, self.device = name, torch.device(device)
        self.network = network.to(self.device).eval()
        self.logmel = LogMel().to(self.device)

    @torch.no_grad()
    def excerpts(self, windows: np.ndarray) -> np.ndarray:
        out = []
        for lo in range(0, len(windows), EMBED_BATCH):
            waves = torch.from_numpy(np.ascontiguousarray(windows[lo : lo + EMBED_BATCH], dtype=np.float32))
            out.append(self.network(self.logmel(waves.to(self.device))).float().cpu().numpy())
        return normalize_blocks(np.concatenate(out))

    def track(self, samples: np.ndarray) -> np.ndarray:
        windows, _ = split_windows(samples)
        return normalize_blocks(self.excerpts(windows).mean(axis=0))


class VQEmbedder:
    sub_dimensions = False

    def __init__(self, baseline) -> None:  # model.baselines.VQBaseline
        self.baseline = baseline
        self.name = f"MFCC-VQ (K={baseline.size})"

    def track(self, samples: np.ndarray) -> np.ndarray:
        return self.baseline.embed(samples)

    def excerpts(self, windows: np.ndarray) -> np.ndarray:
        return np.stack([self.baseline.embed(w) for w in windows])


@dataclass(frozen=True)
class EvalPlan:
    tracks: list[TrackLabels]
    lengths: list[int]  # samples decoded per track
    category: dict[str, list[tuple[int, int, int]]]
    track: list[tuple[int, int, int, int, int, int]]  # (t, start_a, start_p, other, start_n, 0)
    notes: list[str] = field(default_factory=list)


def held_out(labels: Sequence[TrackLabels]) -> tuple[list[TrackLabels], str]:
    """The ``test`` split, else ``val``, else every track (said in the returned note)."""
    for split in ("test", "val"):
        chosen = [t for t in labels if t.split == split]
        if chosen:
            return chosen, f"held-out tracks: the {split!r} split ({len(chosen)} tracks)"
    return list(labels), f"held-out tracks: all {len(labels)} tracks of the file (no split column)"


def plan_triplets(tracks: Sequence[TrackLabels], n: int = DEFAULT_TRIPLETS, seed: int = 0) -> EvalPlan:
    notes, kept, lengths = [], [], []
    for t in tracks:
        try:
            seconds = min(audio_duration(t.path), MAX_TRACK_SECONDS)
        except AudioError as exc:
            notes.append(f"skipped: {exc}")
            continue
        kept.append(t)
        lengths.append(int(seconds * SAMPLE_RATE))
    sampler = CategoryTripletSampler(kept)
    category = {d: sampler.sample_many(d, n, seed) for d in DIMENSIONS}
    for d, triplets in category.items():
        if len(triplets) < n:
            notes.append(f"{d}: {len(triplets)} triplets (the labels allow no more)")
    return EvalPlan(kept, lengths, category, sample_track_triplets(lengths, WINDOW_SAMPLES, n, seed), notes)


@dataclass(frozen=True)
class EvalReport:
    rows: list[dict]  # {"space", "model", genre.., "overall", "track"}
    counts: dict[str, int]
    notes: list[str]

    def to_json(self) -> dict:
        return {"rows": self.rows, "triplets": self.counts, "notes": self.notes}

    def format_table(self) -> str:
        columns = [*DIMENSIONS, "overall", "track"]
        width = max([len(r["model"]) for r in self.rows] + [20])
        lines = [f"{'Used space':<15} {'Embedding features':<{width}} " + " ".join(f"{c.capitalize():>10}" for c in columns)]
        for row in self.rows:
            cells = " ".join(f"{row[c]:>10.3f}" if row.get(c) is not None else f"{'-':>10}" for c in columns)
            lines.append(f"{row['space']:<15} {row['model']:<{width}} {cells}")
        lines.append("triplets: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()))
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


def _score(anchor: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> float:
    dap = np.linalg.norm(anchor - positive, axis=-1)
    dan = np.linalg.norm(anchor - negative, axis=-1)
    return float(np.mean(dap < dan)) if len(dap) else float("nan")


def evaluate(plan: EvalPlan, embedders: Sequence[Embedder]) -> Generator[tuple[int, int, str], None, EvalReport]:
    """Decode each held-out track once and embed it with every embedder; yields progress
    ``(done, total, message)`` and returns the :class:`EvalReport`."""
    needed: dict[int, list[tuple[int, int]]] = {}  # track -> [(excerpt slot, start)]
    for i, (t, sa, sp, o, sn, _) in enumerate(plan.track):
        needed.setdefault(t, []).extend([(3 * i, sa), (3 * i + 1, sp)])
        needed.setdefault(o, []).append((3 * i + 2, sn))
    tracks = [[None] * len(plan.tracks) for _ in embedders]
    excerpts = [[None] * (3 * len(plan.track)) for _ in embedders]
    failed: set[int] = set()
    notes = list(plan.notes)
    for k, labels in enumerate(plan.tracks):
        try:
            samples = load_audio(labels.path, duration_s=MAX_TRACK_SECONDS)
        except AudioError as exc:  # one bad file drops its triplets, never the evaluation
            failed.add(k)
            notes.append(f"skipped: {exc}")
            yield k + 1, len(plan.tracks), labels.path.name
            continue
        starts = needed.get(k, [])
        windows = np.stack([_window(samples, s) for _, s in starts]) if starts else None
        for e, embedder in enumerate(embedders):
            tracks[e][k] = embedder.track(samples)
            if windows is not None:
                for (slot, _), vector in zip(starts, embedder.excerpts(windows), strict=True):
                    excerpts[e][slot] = vector
        yield k + 1, len(plan.tracks), labels.path.name
    category = {d: [t for t in triplets if not failed.intersection(t)] for d, triplets in plan.category.items()}
    track_ok = [i for i, (t, _, _, o, _, _) in enumerate(plan.track) if t not in failed and o not in failed]
    rows = []
    for space in ("All-dimensions", "Sub-dimensions"):
        for e, embedder in enumerate(embedders):
            if space == "Sub-dimensions" and not embedder.sub_dimensions:
                continue
            dim = next(v for v in tracks[e] if v is not None).shape[-1] if len(failed) < len(plan.tracks) else 1
            vectors = np.stack([np.zeros(dim, np.float32) if v is None else v for v in tracks[e]])
            row: dict = {"space": space, "model": embedder.name}
            for d, triplets in category.items():
                if not triplets:
                    row[d] = None
                    continue
                idx = np.array(triplets)
                v = vectors
                if space == "Sub-dimensions":
                    k0 = DIMENSIONS.index(d) * BLOCK_SIZE
                    v = vectors[:, k0 : k0 + BLOCK_SIZE]
                row[d] = _score(v[idx[:, 0]], v[idx[:, 1]], v[idx[:, 2]])
            present = [row[d] for d in DIMENSIONS if row[d] is not None]
            row["overall"] = float(np.mean(present)) if present else None
            if space == "All-dimensions" and track_ok:
                ex = np.stack([excerpts[e][3 * i + j] for i in track_ok for j in range(3)])
                row["track"] = _score(ex[0::3], ex[1::3], ex[2::3])
            else:
                row["track"] = None
            rows.append(row)
    counts = {**{d: len(v) for d, v in category.items()}, "track": len(track_ok)}
    return EvalReport(rows, counts, notes)


def _window(samples: np.ndarray, start: int) -> np.ndarray:
    out = np.zeros(WINDOW_SAMPLES, np.float32)
    chunk = samples[start : start + WINDOW_SAMPLES]
    out[: len(chunk)] = chunk
    return out
