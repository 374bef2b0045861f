"""Formats libsndfile cannot open (.m4a/.mp4/.aac/.wma, ...: AAC, ALAC, WMA, video soundtracks),
decoded in this process by FFmpeg's decoders through PyAV.

No ``ffmpeg`` install is needed (PyAV ships FFmpeg's libraries), and each file costs no
process and no pipe. Any sample format, rate change or channel layout is first made float32
planar at the first frame's rate (FFmpeg's converter, a no-op for the AAC decoder's own
``fltp``), then mixed to mono by model.av_decode's machinery; model.audio resamples with soxr
as for every other format. PyAV is imported only when such a file is met (~0.1 s).

Spans are sample-accurate: the demuxer seeks to a packet ``SEEK_PREROLL_SECONDS`` before the
span (decoders such as AAC's need the frames before a sample to reproduce it exactly), the
first frame's timestamp, against the stream's first frame's, says where decoding resumed, and
samples are counted from there and trimmed to the span. Where timestamps are coarser than a
sample (ASF's and Matroska's milliseconds) a span is decoded from the file's start instead,
which costs CPU but stays exact. An MP4 stops at the length its header declares, which drops
the encoder's padding after the last sample as its edit list drops the priming before the
first (the ``ffmpeg`` command did not: up to one frame more).

A packet that fails to decode (a few damaged bytes) becomes its length of silence, as players
do, so the timeline stays aligned; more than ``MAX_DAMAGED_PACKETS`` make the file an error.

Not exact where a decoder draws random numbers, whose state a seek does not restore: AAC's
noise substitution (PNS) fills bands with noise, so where an encoder used it a span's samples
differ from the whole file's there (30-80 dB below the music on real songs; identical
elsewhere); AC-3 dithers its zero-bit mantissas (FFmpeg's AC-3 encoder's output in a .mov: a
span's noise 19 dB below a synthetic signal, all along it; in Matroska, decoded from the start,
exact).
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from model.av_decode import PLANAR_FLOAT, mono_blocks

SEEK_PREROLL_SECONDS = 0.5  # decoded before a span's start after a seek, then dropped
# MP4/QuickTime's sample tables give a stream's exact length: a whole file is cut there and a
# shorter one is truncated. Other containers' lengths may be estimates (raw ADTS .aac: from the
# bit rate), so their audio is decoded to its end, whatever the header says.
EXACT_LENGTH_FORMAT = "mov"  # in PyAV's name of the demuxer, "mov,mp4,m4a,3gp,3g2,mj2"
MAX_DAMAGED_PACKETS = 8  # packets that may fail to decode (each becomes silence) before a file is corrupt

Error = Callable[[str], Exception]


def _import_av(path: Path, error: Error) -> Any:
    try:
        import av
    except ImportError as exc:  # a hard dependency; only a broken install lacks it
        raise error(f"{path}: unsupported audio format ({path.suffix or 'no extension'}): PyAV is missing") from exc
    return av


def _open(path: Path, error: Error) -> tuple[Any, Any, Any]:
    """``(av, container, stream)``: the best audio stream (the one ffmpeg would pick)."""
    av = _import_av(path, error)
    try:
        container = av.open(os.fspath(path), metadata_errors="ignore")
    except (av.FFmpegError, OSError, ValueError) as exc:
        reason = (getattr(exc, "strerror", None) or str(exc) or type(exc).__name__).splitlines()[0]
        suffix = path.suffix or "no extension"
        raise error(f"{path}: unsupported audio format or corrupt file ({suffix}; FFmpeg: {reason})") from exc
    stream = container.streams.best("audio")
    if stream is None or stream.codec_context is None:
        container.close()
        detail = "no audio stream" if stream is None else "no decoder for its audio"
        raise error(f"{path}: {detail}")
    return av, container, stream


def duration(path: Path, error: Error) -> float:
    """Seconds of audio, from the stream's header (for raw ADTS .aac an estimate from the bit
    rate), else the container's, else the sum of its packets' durations (reads the file,
    decodes nothing)."""
    av, container, stream = _open(path, error)
    with container:
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return container.duration / av.time_base
        try:
            ticks = sum(packet.duration or 0 for packet in container.demux(stream))
        except av.FFmpegError as exc:
            raise error(f"{path}: duration unknown (no header says it, and the data is unreadable)") from exc
        if not ticks or not stream.time_base:
            raise error(f"{path}: duration unknown (no header or packet says it)")
        return float(ticks * stream.time_base)


def open_mono(
    path: Path, offset_s: float, duration_s: float | None, block_seconds: float, error: Error
) -> tuple[int, int, int, Iterator[np.ndarray]]:
    """``(rate, start, end, blocks)``: mono float32 blocks of ``block_seconds`` at the source's
    ``rate``, the samples ``[start, end)`` (the span ``[offset_s, offset_s + duration_s)``
    within the length the stream's header declares; ``end`` 0: no header says it).

    Opening errors (unreadable, no audio stream, first frame undecodable) raise here,
    decoding errors while iterating, all as ``error(one_line_reason)``.
    """
    av, container, stream = _open(path, error)
    try:
        first, frames, position = _resume(av, container, stream, offset_s, path, error)
        rate = first.rate
        start = int(round(offset_s * rate))
        if position is None or position > start:  # no timestamp, or the seek overshot
            container.close()
            av, container, stream = _open(path, error)
            first, frames, position = _resume(av, container, stream, 0.0, path, error)
    except BaseException:
        container.close()
        raise
    declared = 0
    if stream.duration and stream.time_base and EXACT_LENGTH_FORMAT in container.format.name.split(","):
        declared = int(round(stream.duration * stream.time_base * rate))
    stop = declared or None
    if duration_s is not None:
        wanted = start + int(round(duration_s * rate))
        stop = wanted if stop is None else min(stop, wanted)
    planes = _span(_planar(av, itertools.chain([first], frames), rate), position, start, stop)
    block = max(1, int(block_seconds * rate))
    end = max(start, stop) if declared and stop is not None else 0
    return rate, start, end, _closing(container, mono_blocks(planes, block))


def _resume(
    av: Any, container: Any, stream: Any, offset_s: float, path: Path, error: Error
) -> tuple[Any, Iterator[Any], int | None]:
    """``(first frame, the frames after it, first's sample index)``, decoding from the start
    or, for ``offset_s`` > 0, from a seek before it (index ``None``: no timestamps to tell).
    Sample 0 is the stream's first decoded sample, as when the whole file is decoded."""
    frames = _decoded(av, container, stream, path, error)
    first = next(frames, None)
    if first is None:
        raise error(f"{path}: no audio data")
    if offset_s <= 0 or not _seek(av, container, stream, offset_s, first.rate):
        return first, frames, 0
    origin = first.pts
    frames = _decoded(av, container, stream, path, error)
    resumed = next(frames, None)
    if resumed is None or resumed.pts is None or origin is None or resumed.time_base is None:
        return first, frames, None
    return resumed, frames, int(round((resumed.pts - origin) * resumed.time_base * resumed.rate))


def _seek(av: Any, container: Any, stream: Any, offset_s: float, rate: int) -> bool:
    """To a packet at least ``SEEK_PREROLL_SECONDS`` before ``offset_s``; False: not done
    (the span starts in the preroll, the timestamps are coarser than a sample, as ASF's and
    Matroska's milliseconds are, or the file cannot seek): decoding goes on from the start."""
    target = offset_s - SEEK_PREROLL_SECONDS
    if target <= 0 or not stream.time_base or stream.time_base * rate > 1:
        return False
    try:
        container.seek((stream.start_time or 0) + int(target / stream.time_base), stream=stream, backward=True)
    except av.FFmpegError:
        return False
    return True


def _decoded(av: Any, container: Any, stream: Any, path: Path, error: Error) -> Iterator[Any]:
    """The stream's frames; a packet that fails to decode is replaced by its length of silence
    (what players do; the ``ffmpeg`` command skipped it), up to ``MAX_DAMAGED_PACKETS``."""
    last, damaged = None, 0  # the last frame decoded: where a failure was, and the gap's format
    try:
        for packet in container.demux(stream):
            try:
                frames = packet.decode()
            except av.FFmpegError as exc:
                damaged += 1
                if damaged > MAX_DAMAGED_PACKETS:
                    raise error(f"{path}: decoding failed at {_end(last):.1f} s (corrupt data)") from exc
                if last is not None and packet.duration and packet.time_base:
                    yield _silence(av, last, int(round(packet.duration * packet.time_base * last.rate)))
                continue
            for last in frames:
                yield last
    except av.FFmpegError as exc:  # the demuxer's (a cut file's last packet, ...)
        raise error(f"{path}: decoding failed at {_end(last):.1f} s (truncated or corrupt data)") from exc


def _end(frame: Any) -> float:
    return 0.0 if frame is None or frame.time is None else frame.time + frame.samples / (frame.rate or 1)


def _silence(av: Any, like: Any, samples: int) -> Any:
    frame = av.AudioFrame(format=PLANAR_FLOAT, layout=like.layout.name, samples=samples)  # zero bytes: 0.0
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    frame.rate = like.rate
    return frame


def _planar(av: Any, frames: Iterator[Any], rate: int) -> Iterator[Any]:
    """``frames`` as float32 planar at ``rate``: as they are when they already are (AAC, WMA,
    MP3), else through FFmpeg's converter (ALAC's s16p/s32p, PCM, a mid-stream rate change)."""
    converter, setup = None, None
    for frame in frames:
        if converter is None and frame.format.name == PLANAR_FLOAT and frame.rate == rate:
            yield frame  # (the common case, first: the AAC decoder's own format)
            continue
        this = (frame.format.name, frame.layout.name, frame.rate)
        if converter is not None and this != setup:
            yield from converter.resample(None)
            converter = None
        if this[0] == PLANAR_FLOAT and frame.rate == rate:
            yield frame
            continue
        if converter is None:
            converter, setup = av.AudioResampler(format=PLANAR_FLOAT, layout=frame.layout, rate=rate), this
        yield from converter.resample(frame)
    if converter is not None:
        yield from converter.resample(None)


def _span(frames: Iterator[Any], position: int, start: int, stop: int | None) -> Iterator[tuple[list[Any], int]]:
    """``(planes, n)`` of the samples ``[start, stop)`` of ``frames``, whose first sample is
    sample ``position`` (each frame follows the one before without a gap)."""
    for frame in frames:
        n = frame.samples
        first, last = max(start - position, 0), n if stop is None else min(n, stop - position)
        position += n
        if first < last:
            planes = frame.planes
            if first > 0 or planes[0].buffer_size != 4 * last:  # padded planes, or a span's edge
                planes = [memoryview(plane)[4 * first : 4 * last] for plane in planes]
            yield planes, last - first
        if stop is not None and position >= stop:
            break


def _closing(container: Any, blocks: Iterator[np.ndarray]) -> Iterator[np.ndarray]:
    with container:
        yield from blocks
