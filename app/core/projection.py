"""2-D map of the library's track vectors, coloured by nearest k-means cluster (numpy only).

Why numpy: sklearn is not a dependency. PCA is exact and instant; a small exact t-SNE
(O(n²) memory and time) is used for up to TSNE_MAX_POINTS tracks, which gives clearer
clusters; beyond that the map falls back to PCA so it never stalls.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from model.dimensions import block_slice, normalize_blocks

TSNE_MAX_POINTS = 2000  # exact t-SNE is O(n²): ~2 s at 2000 points on one core


@dataclass(frozen=True)
class Projection:
    xy: np.ndarray  # (n, 2) float32, scaled to [-1, 1]
    clusters: np.ndarray  # (n,) int, nearest k-means centre in the projected space's source
    method: str  # "pca" or "tsne"
    dimension: str | None  # None = all four blocks


def select_block(vectors: np.ndarray, dimension: str | None) -> np.ndarray:
    """One dimension's 64-d block (re-normalised), or the whole vector for ``None``."""
    v = normalize_blocks(np.asarray(vectors, dtype=np.float32))
    if dimension is None or dimension == "all":
        return v
    return v[:, block_slice(dimension)]


def pca_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if len(x) < 2:
        return np.zeros((len(x), 2))
    centred = x - x.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    out = centred @ vt[:2].T
    if out.shape[1] < 2:
        out = np.pad(out, ((0, 0), (0, 2 - out.shape[1])))
    return out


def _conditional_p(dist2: np.ndarray, perplexity: float) -> np.ndarray:
    """Row-wise Gaussian affinities whose entropy matches log(perplexity) (binary search)."""
    n = dist2.shape[0]
    target = np.log(perplexity)
    p = np.zeros_like(dist2)
    beta = np.ones(n)
    lo, hi = np.zeros(n), np.full(n, np.inf)
    for _ in range(50):
        logits = -dist2 * beta[:, None]
        np.fill_diagonal(logits, -np.inf)
        logits -= logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        p /= p.sum(axis=1, keepdims=True)
        entropy = -np.sum(np.where(p > 0, p * np.log(np.maximum(p, 1e-300)), 0.0), axis=1)
        too_flat = entropy > target  # raise beta to sharpen
        lo = np.where(too_flat, beta, lo)
        hi = np.where(too_flat, hi, beta)
        beta = np.where(np.isinf(hi), beta * 2, (lo + hi) / 2)
    return p


def tsne_2d(x: np.ndarray, perplexity: float = 30.0, iterations: int = 400, seed: int = 0) -> np.ndarray:
    """Exact t-SNE (van der Maaten 2008) with early exaggeration and momentum."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    if n < 5:
        return pca_2d(x)
    perplexity = min(perplexity, (n - 1) / 3)
    sq = np.sum(x * x, axis=1)
    dist2 = np.maximum(sq[:, None] + sq[None, :] - 2 * x @ x.T, 0)
    p = _conditional_p(dist2, perplexity)
    p = (p + p.T) / (2 * n)
    p = np.maximum(p, 1e-12)
    y = pca_2d(x)
    y = y / (np.std(y[:, 0]) + 1e-12) * 1e-2  # PCA init, small scale: stable and reproducible
    y += np.random.default_rng(seed).normal(0, 1e-4, y.shape)
    velocity = np.zeros_like(y)
    gains = np.ones_like(y)
    for it in range(iterations):
        exaggeration = 12.0 if it < 100 else 1.0
        momentum = 0.5 if it < 100 else 0.8
        sy = np.sum(y * y, axis=1)
        num = 1.0 / (1.0 + np.maximum(sy[:, None] + sy[None, :] - 2 * y @ y.T, 0))
        np.fill_diagonal(num, 0.0)
        q = np.maximum(num / num.sum(), 1e-12)
        pq = (exaggeration * p - q) * num
        grad = 4.0 * ((np.diag(pq.sum(axis=1)) - pq) @ y)
        gains = np.where(np.sign(grad) != np.sign(velocity), gains + 0.2, gains * 0.8)
        gains = np.maximum(gains, 0.01)
        velocity = momentum * velocity - 200.0 * gains * grad
        y += velocity
        y -= y.mean(axis=0)
    return y


def kmeans(x: np.ndarray, k: int, seed: int = 0, iterations: int = 30) -> tuple[np.ndarray, np.ndarray]:
    """k-means++ initialisation then Lloyd iterations; returns (labels, centres)."""
    x = np.asarray(x, dtype=np.float64)
    n = len(x)
    k = max(1, min(k, n))
    rng = np.random.default_rng(seed)
    centres = [x[rng.integers(n)]]
    for _ in range(1, k):
        d2 = np.min(((x[:, None, :] - np.asarray(centres)[None]) ** 2).sum(-1), axis=1)
        total = d2.sum()
        idx = rng.choice(n, p=d2 / total) if total > 0 else rng.integers(n)
        centres.append(x[idx])
    c = np.asarray(centres)
    labels = np.zeros(n, dtype=np.int64)
    for _ in range(iterations):
        d2 = ((x[:, None, :] - c[None]) ** 2).sum(-1)
        new = np.argmin(d2, axis=1)
        if np.array_equal(new, labels) and _ > 0:
            break
        labels = new
        for j in range(k):
            members = x[labels == j]
            if len(members):
                c[j] = members.mean(axis=0)
    return labels, c


def project(
    vectors: np.ndarray,
    dimension: str | None = None,
    method: str = "auto",
    clusters: int = 8,
    seed: int = 0,
) -> Projection:
    """Project track vectors to 2-D. ``method``: "auto" (t-SNE when small enough), "pca", "tsne"."""
    x = select_block(vectors, dimension)
    n = len(x)
    if n == 0:
        return Projection(np.zeros((0, 2), np.float32), np.zeros(0, np.int64), "pca", dimension)
    use_tsne = method == "tsne" or (method == "auto" and n <= TSNE_MAX_POINTS)
    xy = tsne_2d(x, seed=seed) if use_tsne and n >= 5 else pca_2d(x)
    # Clusters from the high-dimensional vectors: colours show real neighbourhoods.
    labels, _ = kmeans(x, min(clusters, max(1, n // 3)), seed=seed)
    span = np.abs(xy).max() or 1.0
    return Projection(
        (xy / span).astype(np.float32),
        labels,
        "tsne" if use_tsne and n >= 5 else "pca",
        None if dimension == "all" else dimension,
    )
