"""Vorbis and Opus decoded in this process by FFmpeg's own decoders (PyAV), down-mixed to mono.

Why not libsndfile for these: its Vorbis path (libvorbis) is the indexer's largest cost.
On 16 real Vorbis songs (Debian game music, 44.1 kHz), decoding plus down-mix took
1.44 ms of CPU per second of audio through libsndfile and 0.85 ms through FFmpeg's Vorbis
decoder here, for samples that differ by -136 dB (same length, same alignment). Opus goes
the same way: FFmpeg's decoder was already preferred for it, then through a pipe to an
``ffmpeg`` process; in process there is no pipe and no ffmpeg install needed. FLAC stays with
libsndfile, which was cheaper (0.80 against 1.06 ms per audio second).

Only processes that decode many files take it (``enable()``: the decoder workers of
model.decode_pool): importing PyAV costs more CPU than it saves on a search's one query.

Samples come straight from the decoder's float planes (no ``to_ndarray``, which cost a
quarter of the decoding). Frames are mixed to mono ``MIX_SAMPLES`` at a time (one
``bytes.join`` and one numpy sum per channel) rather than frame by frame: on 6 Vorbis songs,
decoding plus mix took 0.87-0.90 ms of CPU per audio second mixing every 1024-sample frame,
0.80-0.81 in groups of 16 (0.70 for PyAV's bare decoding loop). Much larger groups cost more
again (0.93-1.02 for 400 frames): the planes no longer stay in the cache.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

av: Any = None  # the module, once ``enable()`` has imported it

CODECS = frozenset({"vorbis", "opus"})  # FFmpeg's decoders for these beat libvorbis/libopus
SUFFIXES = frozenset({".ogg", ".oga", ".opus"})  # files that may hold one of CODECS
PLANAR_FLOAT = "fltp"  # what both decoders put out: one float32 plane per channel
MIX_SAMPLES = 16384  # frames mixed together: few numpy calls, and the planes still in cache


def enable() -> None:
    """Decode Vorbis/Opus with PyAV from now on, in this process (when it is installed)."""
    global av
    with contextlib.suppress(ImportError):  # without PyAV, libsndfile decodes everything
        import av as module

        av = module


def open_mono(
    path: Path, block_samples: int, error: Callable[[str], Exception]
) -> Iterator[np.ndarray] | None:
    """Mono float32 blocks of ``block_samples`` (the last shorter) at the source's rate, or
    ``None`` when PyAV is not enabled or the file is not Vorbis/Opus (libsndfile decodes it then).

    The container is opened here, so ``None`` costs one header read; decoding errors raise
    ``error(one_line_reason)`` while iterating.
    """
    if av is None or path.suffix.lower() not in SUFFIXES:
        return None
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.FFmpegError:
        return None
    streams = container.streams.audio
    context = streams[0].codec_context if streams else None
    if context is None or context.name not in CODECS or context.format.name != PLANAR_FLOAT:
        container.close()
        return None
    return _blocks(container, streams[0], block_samples, path, error)


def _blocks(
    container: Any,
    stream: Any,
    block_samples: int,
    path: Path,
    error: Callable[[str], Exception],
) -> Iterator[np.ndarray]:
    with container:
        yield from mono_blocks(_planes(container, stream, path, error), block_samples)


def _planes(
    container: Any, stream: Any, path: Path, error: Callable[[str], Exception]
) -> Iterator[tuple[Sequence[Any], int]]:
    decoded = 0
    try:
        for frame in container.decode(stream):
            planes, n = frame.planes, frame.samples
            decoded += n
            if planes[0].buffer_size != 4 * n:  # padded: Vorbis's short blocks, trimmed ends
                planes = [memoryview(plane)[: 4 * n] for plane in planes]
            yield planes, n
    except av.FFmpegError as exc:
        rate = stream.rate or 1
        raise error(f"{path}: decoding failed at {decoded / rate:.1f} s (truncated or corrupt data)") from exc


def mono_blocks(frames: Iterable[tuple[Sequence[Any], int]], block_samples: int) -> Iterator[np.ndarray]:
    """Mono float32 blocks of ``block_samples`` (the last shorter): the channel mean of
    ``frames``, each given as ``(planes, n)``: its float32 channel planes, ``4 * n`` bytes each.

    Frames wait (their planes) until ``MIX_SAMPLES`` have arrived; then each channel's planes
    are joined in one call and summed, and the mix goes into the block being filled.
    """
    blocks = _BlockFiller(block_samples)
    waiting: list[Sequence[Any]] = []  # planes of the frames not yet mixed
    queued, channels = 0, 0
    for planes, n in frames:
        # (a chained stream may change its channel count: mix what came before)
        if waiting and (queued >= MIX_SAMPLES or len(planes) != channels):
            yield from blocks.add(_channel_sum(waiting, channels), 1.0 / channels)
            waiting, queued = [], 0
        channels = len(planes)
        waiting.append(planes)
        queued += n
    if waiting:
        yield from blocks.add(_channel_sum(waiting, channels), 1.0 / channels)
    if blocks.filled:
        yield blocks.block[: blocks.filled]


class _BlockFiller:
    """Copies mono pieces into blocks of ``size`` samples; ``add`` yields each block filled."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.block, self.filled = np.empty(size, np.float32), 0

    def add(self, piece: np.ndarray, scale: float = 1.0) -> Iterator[np.ndarray]:
        """Add ``piece * scale`` (the scaling done in the copy: one pass over the samples;
        a scale of 1 copies exactly)."""
        factor = np.float32(scale)
        used = 0
        while used < piece.size:
            take = min(piece.size - used, self.size - self.filled)
            np.multiply(piece[used : used + take], factor, out=self.block[self.filled : self.filled + take])
            self.filled, used = self.filled + take, used + take
            if self.filled == self.size:
                yield self.block
                self.block, self.filled = np.empty(self.size, np.float32), 0


def _channel_sum(frames: Sequence[Sequence[Any]], channels: int) -> np.ndarray:
    """The sum of ``frames``' channel planes (float32, finite); the caller scales it to the mean.

    Three passes over the samples in all (the sum here, its finiteness check, the scaled copy
    into the block) where a copy, an add, a scale, an ``isfinite`` array and a copy took five:
    the same float32 values (the same additions, then the same product; bit-identical on 11
    real songs), 0.01-0.03 ms of CPU per audio second less (20 Vorbis songs, 0.864 -> 0.833-0.851)."""
    planes = [np.frombuffer(b"".join([frame[c] for frame in frames]), np.float32) for c in range(channels)]
    total = planes[0] if channels == 1 else np.add(planes[0], planes[1])
    for plane in planes[2:]:
        total += plane
    if not np.isfinite(total.sum()):  # NaN or inf anywhere makes the sum so (an overflow only costs a pass)
        total = np.nan_to_num(total, nan=0.0, posinf=0.0, neginf=0.0)
    return total
