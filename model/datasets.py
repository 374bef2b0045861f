"""Training data: decode every clip once into an on-disk cache, then serve seeded batches.

The cache holds 22 050 Hz mono audio as int16 in one memmap (``samples.i16``) plus an
``index.json`` with each track's offset and length, under ``data/cache/<key>/``, where the
key hashes the file list (path, size, mtime), the sample rate and the length cap. Audio
rather than log-mel is cached on purpose: excerpts can then start at any sample, the
label-free augmentations (time-stretch, pitch) work on audio as they should, and the mel is
computed by the very same ``LogMel`` module the encoder uses, so training and indexing can
never disagree about the front end. The mel of a batch costs ~1 % of a training step.

A batch is two excerpts (overlapping at most 50 %) of each of M tracks; its randomness is
seeded by ``(seed, epoch, step)`` so a resumed run sees exactly the batches it would have.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.atomic import write_text_atomic
from model.audio import SAMPLE_RATE, WINDOW_SAMPLES, AudioError, audio_duration, load_audio
from model.augment import time_stretch
from model.samplers import MAX_EXCERPT_OVERLAP, excerpt_pair

CACHE_VERSION = 1
MIN_TRACK_SAMPLES = int(np.ceil(WINDOW_SAMPLES * (2 - MAX_EXCERPT_OVERLAP)))  # 1.5 windows


@dataclass(frozen=True)
class CachedTrack:
    path: str
    offset: int  # first sample in samples.i16
    length: int  # samples (0 when decoding failed)
    error: str = ""


def cache_key(paths: Sequence[str | Path], max_seconds: float) -> str:
    """Changes whenever a file, the sample rate or the length cap changes."""
    digest = hashlib.sha256(f"v{CACHE_VERSION} sr{SAMPLE_RATE} max{max_seconds}".encode())
    for path in paths:
        try:
            st = os.stat(path)
            stamp = f"{st.st_size}|{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"  # decoding will record the reason; the key must not crash
        digest.update(f"\n{Path(path).resolve()}|{stamp}".encode())
    return digest.hexdigest()[:16]


def _decode(path: str, max_seconds: float) -> tuple[np.ndarray, str]:
    """int16 samples of (the middle ``max_seconds`` of) one file, or an error reason."""
    try:
        duration = audio_duration(path)
        offset = max(0.0, (duration - max_seconds) / 2.0)
        audio = load_audio(path, offset_s=offset, duration_s=max_seconds)
    except AudioError as exc:
        return np.zeros(0, np.int16), str(exc)
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16), ""


class AudioCache:
    """A read-only view of a finished cache (opened lazily, so it pickles to workers cheaply)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        index = json.loads((self.root / "index.json").read_text())
        self.tracks = [CachedTrack(**t) for t in index["tracks"]]
        self.total = int(index["total"])
        self._samples: np.memmap | None = None

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_samples": None}

    @property
    def samples(self) -> np.ndarray:
        if self._samples is None:
            self._samples = np.memmap(self.root / "samples.i16", dtype=np.int16, mode="r", shape=(self.total,))
        return self._samples

    def excerpt(self, track: int, start: int, length: int = WINDOW_SAMPLES) -> np.ndarray:
        """float32 samples ``[start, start+length)`` of a track, zero-padded past its end."""
        t = self.tracks[track]
        out = np.zeros(length, np.float32)
        lo, hi = max(0, start), min(t.length, start + length)
        if hi > lo:
            out[lo - start : hi - start] = self.samples[t.offset + lo : t.offset + hi] / 32767.0
        return out

    def audio(self, track: int) -> np.ndarray:
        t = self.tracks[track]
        return self.samples[t.offset : t.offset + t.length].astype(np.float32) / 32767.0


def build_cache(
    paths: Sequence[str | Path], cache_dir: str | Path, max_seconds: float = 60.0, workers: int = 1
) -> Iterator[tuple[int, int, str]]:
    """Decode ``paths`` into ``cache_dir/<key>/`` (skipped when already complete).

    A generator yielding ``(done, total, message)``; its return value (``StopIteration.value``
    or via :func:`ensure_cache`) is the :class:`AudioCache`. Undecodable files are recorded
    with their reason and length 0, never stop the build.
    """
    paths = [str(Path(p).resolve()) for p in paths]
    root = Path(cache_dir) / cache_key(paths, max_seconds)
    if (root / "index.json").exists():
        return AudioCache(root)
    root.mkdir(parents=True, exist_ok=True)
    partial = root / "samples.i16.partial"
    tracks, offset = [], 0
    pool = ProcessPoolExecutor(workers) if workers > 1 else None
    with partial.open("wb") as out:
        mapper = pool.map if pool is not None else map
        kwargs = {"chunksize": 4} if pool is not None else {}
        decoded = mapper(_decode, paths, [max_seconds] * len(paths), **kwargs)
        for i, (path, (samples, error)) in enumerate(zip(paths, decoded, strict=True)):
            out.write(samples.tobytes())
            tracks.append(CachedTrack(path, offset, len(samples), error).__dict__)
            offset += len(samples)
            yield i + 1, len(paths), error or f"decoded {Path(path).name}"
    if pool is not None:
        pool.shutdown()
    partial.replace(root / "samples.i16")
    # written last: its presence marks a complete cache
    write_text_atomic(root / "index.json", json.dumps({"version": CACHE_VERSION, "total": offset, "tracks": tracks}))
    return AudioCache(root)


def ensure_cache(paths: Sequence[str | Path], cache_dir: str | Path, max_seconds: float = 60.0,
                 workers: int = 1) -> AudioCache:
    """:func:`build_cache` run to the end (for scripts and tests that need no progress)."""
    job = build_cache(paths, cache_dir, max_seconds, workers)
    while True:
        try:
            next(job)
        except StopIteration as done:
            return done.value


class PairBatches(torch.utils.data.Dataset):
    """Item ``step`` of an epoch: two excerpts of each of ``tracks_per_batch`` tracks.

    Returns ``waves`` (2M, WINDOW_SAMPLES) float32, ``rows`` (2M,) indices into
    ``track_rows``' label rows, ``track_ids`` (2M,) with items ``2i, 2i+1`` from one
    track, and ``stretched`` (2M,) bool. ``augment`` (a callable ``(waves, rng) -> waves``)
    is applied per excerpt.

    ``weights`` (per track row, optional) make some tracks likelier to be drawn, e.g. the
    teacher-tagged ones, which only form teacher pairs with each other in the same batch.

    With ``stretch`` > 0, the second excerpt of half the tracks is time-stretched by a rate
    drawn from ``[1 - stretch, 1 + stretch]`` before ``augment``: the track triplets then
    teach that a sped-up copy (a PAL transfer is +4 %) is still the same song. Such an
    excerpt no longer has its track's BPM, so training leaves it out of tempo pairs.
    """

    def __init__(self, cache: AudioCache, track_rows: Sequence[int], cache_index: Sequence[int],
                 tracks_per_batch: int, steps: int, seed: int, epoch: int, augment=None,
                 start_step: int = 0, stretch: float = 0.0, weights: Sequence[float] | None = None) -> None:
        lengths = np.array([cache.tracks[i].length for i in cache_index])
        usable = lengths >= MIN_TRACK_SAMPLES
        self.cache = cache
        self.rows = np.asarray(track_rows)[usable]
        self.cache_index = np.asarray(cache_index)[usable]
        self.lengths = lengths[usable]
        kept = None if weights is None else np.asarray(weights, np.float64)[usable]
        self.p = None if kept is None else kept / kept.sum()
        if len(self.rows) < 2:
            raise ValueError("need at least two training tracks of 4.5 s or more")
        self.m = min(tracks_per_batch, len(self.rows))
        self.steps, self.seed, self.epoch, self.augment = steps, seed, epoch, augment
        self.start_step = start_step  # a resumed epoch continues where its checkpoint was
        self.stretch = stretch

    def __len__(self) -> int:
        return self.steps - self.start_step

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, self.start_step + index])
        # the speeds have a stream of their own, so the same excerpts are drawn with or without stretch
        speeds = np.random.default_rng([self.seed, self.epoch, self.start_step + index, 1])
        chosen = rng.choice(len(self.rows), size=self.m, replace=False, p=self.p)
        waves = np.zeros((2 * self.m, WINDOW_SAMPLES), np.float32)
        stretched = np.zeros(2 * self.m, bool)
        room = 0 if self.augment is None and not self.stretch else WINDOW_SAMPLES // 4  # to stretch into
        for j, k in enumerate(chosen):
            starts = excerpt_pair(int(self.lengths[k]), WINDOW_SAMPLES, rng)
            assert starts is not None  # guaranteed by MIN_TRACK_SAMPLES
            rate = float(speeds.uniform(1 - self.stretch, 1 + self.stretch)) if speeds.random() < 0.5 else 1.0
            for h, start in enumerate(starts):
                wave = self.cache.excerpt(int(self.cache_index[k]), start, WINDOW_SAMPLES + room)
                if h == 1 and rate != 1.0:
                    wave, stretched[2 * j + h] = time_stretch(wave, rate), True
                if self.augment is not None:
                    wave = self.augment(wave, rng)
                waves[2 * j + h] = wave[:WINDOW_SAMPLES]
        return {
            "waves": torch.from_numpy(waves),
            "rows": torch.from_numpy(np.repeat(self.rows[chosen], 2)),
            "track_ids": torch.from_numpy(np.repeat(np.arange(self.m), 2)),
            "stretched": torch.from_numpy(stretched),
        }
