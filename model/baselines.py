"""The paper's MFCC-VQ baseline (section 3.4, after McFee et al.).

Per frame (23 ms hop): 13 MFCCs with first and second derivatives (39 values). A K-means dictionary
(K = 1024) is learned from frames sampled across training tracks; a track is the normalised
histogram of its frames' nearest codewords, and tracks are compared by Euclidean distance.

Two choices the paper leaves open, made here: the 39 features are standardised with the
dictionary frames' mean and std before clustering (otherwise MFCC 0 alone decides the
clusters), and K shrinks to ``frames // MIN_FRAMES_PER_CODEWORD`` when there are too few
frames for 1024 codewords (``VQBaseline.note`` says so, and the evaluation table prints it).
K-means is plain Lloyd iterations in torch (no scikit-learn in ``model/``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.audio import HOP_LENGTH, N_FFT
from model.features import mel_filters

N_MFCC = 13
CODEBOOK_SIZE = 1024  # the paper's K
MAX_DICTIONARY_FRAMES = 250_000  # the paper used 2.5 M; 10x fewer keeps this a CPU minute
MIN_FRAMES_PER_CODEWORD = 20
KMEANS_ITERATIONS = 25


def mfcc_frames(samples: np.ndarray) -> np.ndarray:
    """(T, 39) float32: 13 MFCCs, deltas and delta-deltas for 22 050 Hz mono samples.

    The mel power spectrogram is the front end's (n_fft 1024, hop 512, the shipped 128-band
    filterbank) computed with torch: librosa's own ``melspectrogram`` spends ~70 ms per call
    in a numpy einsum, which made the baseline the slowest row of the evaluation.
    """
    import librosa

    x = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    if len(x) < N_FFT:
        x = torch.nn.functional.pad(x, (0, N_FFT - len(x)))
    spec = torch.stft(x, N_FFT, HOP_LENGTH, window=torch.hann_window(N_FFT), center=True,
                      pad_mode="constant", return_complex=True)  # fmt: skip
    mel = mel_filters() @ (spec.real.square() + spec.imag.square()).numpy()
    mfcc = librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=N_MFCC)
    width = min(9, mfcc.shape[1] - (1 - mfcc.shape[1] % 2))  # delta needs an odd width <= T
    if width < 3:
        deltas = np.zeros_like(mfcc), np.zeros_like(mfcc)
    else:
        deltas = librosa.feature.delta(mfcc, width=width), librosa.feature.delta(mfcc, order=2, width=width)
    return np.concatenate([mfcc, *deltas]).T.astype(np.float32)


def _nearest(points: torch.Tensor, centres: torch.Tensor, chunk: int = 16384) -> torch.Tensor:
    out = []
    c2 = centres.square().sum(1)
    for lo in range(0, len(points), chunk):
        p = points[lo : lo + chunk]
        out.append((c2[None, :] - 2 * p @ centres.T).argmin(1))  # |p|^2 is constant per row
    return torch.cat(out)


def kmeans(points: np.ndarray, k: int, seed: int = 0, iterations: int = KMEANS_ITERATIONS) -> np.ndarray:
    """Lloyd's K-means from ``k`` distinct random points; empty clusters are re-seeded."""
    rng = np.random.default_rng(seed)
    x = torch.from_numpy(np.ascontiguousarray(points, dtype=np.float32))
    centres = x[torch.from_numpy(rng.choice(len(x), size=k, replace=False))].clone()
    for _ in range(iterations):
        assign = _nearest(x, centres)
        counts = torch.bincount(assign, minlength=k).float()
        sums = torch.zeros_like(centres).index_add_(0, assign, x)
        empty = counts == 0
        centres = torch.where(empty[:, None], centres, sums / counts.clamp(min=1)[:, None])
        if bool(empty.any()):
            centres[empty] = x[torch.from_numpy(rng.choice(len(x), size=int(empty.sum())))]
    return centres.numpy()


@dataclass(frozen=True)
class VQBaseline:
    codebook: np.ndarray  # (K, 39)
    mean: np.ndarray  # (39,)
    std: np.ndarray  # (39,)
    note: str = ""

    @property
    def size(self) -> int:
        return len(self.codebook)

    def embed(self, samples: np.ndarray) -> np.ndarray:
        """Normalised codeword histogram (K,) of a track or excerpt."""
        frames = (mfcc_frames(samples) - self.mean) / self.std
        assign = _nearest(torch.from_numpy(frames), torch.from_numpy(self.codebook)).numpy()
        hist = np.bincount(assign, minlength=self.size).astype(np.float32)
        return hist / max(1.0, float(hist.sum()))


def fit_vq_baseline(tracks: Iterable[np.ndarray], k: int = CODEBOOK_SIZE, seed: int = 0,
                    max_frames: int = MAX_DICTIONARY_FRAMES) -> VQBaseline:
    """Learn the dictionary from the MFCC frames of ``tracks`` (sampled down to ``max_frames``)."""
    frames = [mfcc_frames(samples) for samples in tracks]
    if not frames:
        raise ValueError("the MFCC-VQ baseline needs at least one track to learn its dictionary")
    pool = np.concatenate(frames)
    rng = np.random.default_rng(seed)
    if len(pool) > max_frames:
        pool = pool[rng.choice(len(pool), size=max_frames, replace=False)]
    mean, std = pool.mean(0), pool.std(0) + 1e-6
    pool = (pool - mean) / std
    k_used = min(k, max(2, len(pool) // MIN_FRAMES_PER_CODEWORD))
    note = "" if k_used == k else f"K={k_used} instead of {k}: only {len(pool)} dictionary frames"
    return VQBaseline(kmeans(pool, k_used, seed), mean.astype(np.float32), std.astype(np.float32), note)


def fit_vq_on_files(paths: Sequence[str | Path], seed: int = 0, max_tracks: int = 150,
                    seconds: float = 60.0) -> tuple[VQBaseline, list[str]]:
    """Dictionary from (a seeded sample of at most ``max_tracks`` of) audio files.

    Returns the baseline and one line per file that could not be decoded (skipped).
    """
    from model.audio import AudioError, load_audio

    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(paths), size=min(len(paths), max_tracks), replace=False))
    skipped: list[str] = []

    def decoded() -> Iterator[np.ndarray]:
        for i in chosen:
            try:
                yield load_audio(paths[i], duration_s=seconds)
            except AudioError as exc:
                skipped.append(str(exc))

    return fit_vq_baseline(decoded(), seed=seed), skipped
