"""Fallback decoder for formats libsndfile cannot read (.m4a/AAC, .wma, video soundtracks).

Optional by design: used only when ``ffmpeg`` and ``ffprobe`` are on PATH. ffmpeg decodes,
down-mixes and resamples (its soxr resampler when built with it, as Debian's is) and streams
raw float32 through a pipe, so memory stays bounded like the libsndfile path.
"""

from __future__ import annotations

import functools
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

CHUNK_BYTES = 4 * 22050 * 10  # about 10 s of float32 mono at 22 050 Hz per read


@functools.cache
def available() -> bool:
    """True when both ffmpeg and ffprobe are installed."""
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def probe_duration(path: Path) -> float | None:
    """Seconds of the first audio stream, or None when ffprobe finds no audio."""
    if not available():
        return None
    cmd = [
        "ffprobe", "-v", "error", "-select_streams", "a:0",
        "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", str(path),
    ]  # fmt: skip
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    try:
        duration = float(out.stdout.strip().splitlines()[0])
    except (ValueError, IndexError):
        return None
    return duration if out.returncode == 0 and duration > 0 else None


def stream(
    path: Path,
    sample_rate: int,
    offset_s: float,
    duration_s: float | None,
    error: Callable[[str], Exception],
) -> Iterator[np.ndarray]:
    """Yield float32 mono chunks at ``sample_rate``; failures raise ``error(one_line_reason)``."""
    cmd = ["ffmpeg", "-nostdin", "-v", "error", "-threads", "1", "-ss", f"{offset_s:.6f}"]
    if duration_s is not None:
        cmd += ["-t", f"{duration_s:.6f}"]
    cmd += ["-i", str(path), "-vn", "-ac", "1", "-ar", str(sample_rate), "-f", "f32le", "-"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    pending = b""
    try:
        while True:
            data = proc.stdout.read(CHUNK_BYTES)
            if not data:
                break
            data = pending + data
            usable = len(data) - len(data) % 4
            pending = data[usable:]
            if usable:
                yield np.frombuffer(data[:usable], dtype="<f4").astype(np.float32)
        stderr = proc.stderr.read().decode(errors="replace").strip()
        if proc.wait() != 0:
            reason = stderr.splitlines()[-1] if stderr else f"exit status {proc.returncode}"
            raise error(f"{path}: ffmpeg could not decode it: {reason}")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
