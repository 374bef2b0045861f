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

Samples come straight from the decoder's float planes (``np.frombuffer``): ``to_ndarray``
per 1024-sample frame cost a quarter of the decoding itself.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

av: Any = None  # the module, once ``enable()`` has imported it

CODECS = frozenset({"vorbis", "opus"})  # FFmpeg's decoders for these beat libvorbis/libopus
SUFFIXES = frozenset({".ogg", ".oga", ".opus"})  # files that may hold one of CODECS
PLANAR_FLOAT = "fltp"  # what both decoders put out: one float32 plane per channel


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
    # Each frame's channels are summed straight into the block being filled (one pass per
    # channel); the block is scaled to the channel mean once, when it is full.
    block, filled, decoded, channels = np.empty(block_samples, np.float32), 0, 0, 1
    with container:
        try:
            for frame in container.decode(stream):
                planes, n = frame.planes, frame.samples
                channels = len(planes)
                used = 0
                while used < n:
                    take = min(n - used, block_samples - filled)
                    target = block[filled : filled + take]
                    target[:] = np.frombuffer(planes[0], np.float32, take, 4 * used)
                    for plane in planes[1:]:
                        target += np.frombuffer(plane, np.float32, take, 4 * used)
                    filled, used = filled + take, used + take
                    if filled == block_samples:
                        yield _mean(block, channels)
                        block, filled = np.empty(block_samples, np.float32), 0
                decoded += n
        except av.FFmpegError as exc:
            rate = stream.rate or 1
            raise error(f"{path}: decoding failed at {decoded / rate:.1f} s (truncated or corrupt data)") from exc
    if filled:
        yield _mean(block[:filled], channels)


def _mean(block: np.ndarray, channels: int) -> np.ndarray:
    if channels > 1:
        block *= np.float32(1.0 / channels)
    if not np.isfinite(block).all():
        block = np.nan_to_num(block, nan=0.0, posinf=0.0, neginf=0.0)
    return block
