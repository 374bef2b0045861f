"""Leakage: how well each embedding block predicts each block's teacher tags.

Disentanglement means the genre block knows genre tags and little about mood or
instrument tags, and so on. For every (block, tag group) pair a ridge-regression probe from
the block's 64-d vectors to the group's teacher probabilities is fitted and scored with
k-fold cross-validated R² (averaged over the group's tags). The diagonal is what each block
learned of its own tags; an off-diagonal entry close to the diagonal is leakage. The report
gives the matrix and, per block, ``own - max(others)``.
"""

from __future__ import annotations

import numpy as np

from model.dimensions import BLOCK_SIZE, DIMENSIONS, normalize_blocks

RIDGE = 1.0
FOLDS = 5


def probe_r2(x: np.ndarray, y: np.ndarray, folds: int = FOLDS, seed: int = 0) -> float:
    """Cross-validated R² of ridge regression ``x -> y`` (mean over ``y``'s columns)."""
    n = x.shape[0]
    order = np.random.default_rng(seed).permutation(n)
    predicted = np.zeros_like(y, dtype=np.float64)
    for fold in np.array_split(order, folds):
        train = np.setdiff1d(order, fold)
        xm, ym = x[train].mean(0), y[train].mean(0)
        xt, yt = x[train] - xm, y[train] - ym
        w = np.linalg.solve(xt.T @ xt + RIDGE * np.eye(x.shape[1]), xt.T @ yt)
        predicted[fold] = (x[fold] - xm) @ w + ym
    residual = ((y - predicted) ** 2).sum(0)
    total = ((y - y.mean(0)) ** 2).sum(0)
    useful = total > 1e-12
    return float(np.mean(1.0 - residual[useful] / total[useful])) if useful.any() else float("nan")


def leakage_matrix(vectors: np.ndarray, targets: dict[str, np.ndarray]) -> dict[str, dict[str, float]]:
    """``{block: {group: R²}}`` for track vectors ``(N, 256)`` and per-group targets ``(N, k)``."""
    blocks = normalize_blocks(vectors).reshape(len(vectors), len(DIMENSIONS), BLOCK_SIZE)
    return {block: {group: probe_r2(blocks[:, DIMENSIONS.index(block)], y) for group, y in targets.items()}
            for block in targets}


def format_leakage(matrix: dict[str, dict[str, float]]) -> str:
    groups = list(next(iter(matrix.values())))
    lines = ["block \\ tags  " + "  ".join(f"{g:>10}" for g in groups) + "  own - max(other)"]
    for block, row in matrix.items():
        others = [v for g, v in row.items() if g != block]
        margin = row.get(block, float("nan")) - max(others) if others else float("nan")
        lines.append(f"{block:<12}  " + "  ".join(f"{row[g]:10.3f}" for g in groups) + f"  {margin:+.3f}")
    return "\n".join(lines)
