"""How far each block agrees with the teacher, and how much it leaks, on held-out tracks.

Teacher agreement of block ``b``: triplets (anchor, positive, negative) of held-out tracks
where the teacher calls the positive similar to the anchor in ``b``'s tags (cosine of the
teacher vectors in the top ``POSITIVE_SHARE`` of all pairs) and the negative dissimilar
(bottom ``NEGATIVE_SHARE``), the same rule distillation trains with; the accuracy is the
share of triplets where the block's cosine agrees. Chance is .5. Leakage is
``model.training.leakage``'s probe matrix on the same tracks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from model.dimensions import BLOCK_SIZE, DIMENSIONS, normalize_blocks
from model.training.distill import NEGATIVE_SHARE, POSITIVE_SHARE, TAG_BLOCKS, track_targets
from model.training.leakage import format_leakage, leakage_matrix


def teacher_agreement(vectors: np.ndarray, targets: dict[str, np.ndarray], n: int = 1000,
                      seed: int = 0) -> dict[str, float]:
    """Per block, triplet accuracy against the teacher's calls (see the module doc)."""
    rng = np.random.default_rng(seed)
    blocks = normalize_blocks(vectors).reshape(len(vectors), len(DIMENSIONS), BLOCK_SIZE)
    out = {}
    for block, t in targets.items():
        unit = t / np.maximum(np.linalg.norm(t, axis=1, keepdims=True), 1e-9)
        sims = unit @ unit.T
        off = ~np.eye(len(t), dtype=bool)
        hi, lo = np.quantile(sims[off], 1 - POSITIVE_SHARE), np.quantile(sims[off], NEGATIVE_SHARE)
        b = blocks[:, DIMENSIONS.index(block)]
        cos = b @ b.T
        hits, total = 0, 0
        for a in rng.permutation(len(t)):
            positives = np.flatnonzero((sims[a] >= hi) & off[a])
            negatives = np.flatnonzero((sims[a] <= lo) & off[a])
            if not len(positives) or not len(negatives):
                continue
            k = max(1, n // len(t))
            p, q = rng.choice(positives, k), rng.choice(negatives, k)
            hits += int(np.sum(cos[a, p] > cos[a, q]))
            total += k
        out[block] = hits / total if total else float("nan")
    return out


def precision_at_k(vectors: np.ndarray, targets: dict[str, np.ndarray], k: int = 10) -> dict[str, tuple[float, float]]:
    """Per block: (P@k, chance) where a neighbour is relevant when it shares the query's
    teacher top tag of that block's group: the proxy for the issue's "one slider up, P@10"."""
    blocks = normalize_blocks(vectors).reshape(len(vectors), len(DIMENSIONS), BLOCK_SIZE)
    out = {}
    for block, t in targets.items():
        top = t.argmax(axis=1)
        b = blocks[:, DIMENSIONS.index(block)]
        cos = b @ b.T
        np.fill_diagonal(cos, -np.inf)
        k_eff = min(k, len(t) - 1)
        neighbours = np.argsort(-cos, axis=1)[:, :k_eff]
        precision = float(np.mean(top[neighbours] == top[:, None]))
        shares = np.bincount(top) / len(top)
        out[block] = (precision, float(np.sum(shares**2)))
    return out


def evaluate_against_teacher(vectors: np.ndarray, caches: Sequence[Path], max_seconds: float = 1e9) -> str:
    """Teacher agreement and leakage of ``vectors`` (one per cache file), as a text report."""
    rows = [(v, track_targets(c, max_seconds)) for v, c in zip(vectors, caches, strict=True)]
    rows = [(v, t) for v, t in rows if t is not None]
    if len(rows) < 10:
        return f"teacher agreement: only {len(rows)} tagged tracks, not measured"
    x = np.stack([v for v, _ in rows])
    targets = {b: np.stack([t[b] for _, t in rows]) for b in TAG_BLOCKS}
    agreement = teacher_agreement(x, targets)
    precision = precision_at_k(x, targets)
    lines = [f"teacher agreement on {len(rows)} held-out tracks (triplet accuracy, chance .5): "
             + ", ".join(f"{b} {a:.3f}" for b, a in agreement.items()),
             "P@10 by the teacher's top tag of each block's group, that block alone (chance): "
             + ", ".join(f"{b} {p:.2f} ({c:.2f})" for b, (p, c) in precision.items()),
             "leakage (cross-validated R² of a ridge probe from each block to each block's teacher tags):",
             format_leakage(leakage_matrix(x, targets))]
    return "\n".join(lines)


def embed_tagged(model: Path, manifest: Path, teacher_dir: Path, splits: Sequence[str]) -> tuple[np.ndarray, list[Path]]:
    """Track vectors of the manifest rows in ``splits`` that the teacher has tagged."""
    import csv

    from model.encoder import Encoder

    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r.get("split", "test") in splits]
    pairs = [(manifest.parent / r["path"], teacher_dir / Path(r["path"]).with_suffix(".npz")) for r in rows]
    pairs = [(a, c) for a, c in pairs if a.is_file() and c.is_file()]
    encoder = Encoder.load(model)
    vectors = [encoder.embed_file(audio).track for audio, _ in pairs]
    return (np.stack(vectors) if vectors else np.zeros((0, 256), np.float32)), [c for _, c in pairs]


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m model.training.teacher_eval", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--manifest", type=Path, default=Path("data/real/manifest.csv"))
    parser.add_argument("--teacher", type=Path, default=Path("data/teacher/real"))
    parser.add_argument("--splits", default="test", help="comma-separated manifest splits to evaluate on")
    args = parser.parse_args(argv)
    vectors, caches = embed_tagged(args.model, args.manifest, args.teacher, args.splits.split(","))
    print(evaluate_against_teacher(vectors, caches))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
