"""A library of broken, disguised and dangerous files, as real disks hold them.

``make_hostile_library(root, copies)`` writes ``copies`` variants of each kind below plus a
few good tracks; ``copies=8`` gives about 200 entries (the hostile-library check), the test
uses fewer. Every kind is something indexing met, or could meet, on a user's drive:
empty, truncated and disguised files, headers that claim hours or gigabytes, odd but valid
formats, links that loop or point at endless devices, FIFOs, unreadable folders, and
names no UTF-8 decoder accepts.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf

from tests.synth_audio import music_like, write_audio


def _wav_header(rate: int, channels: int, bits: int, data_bytes: int) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", 1, channels, rate, min(0xFFFFFFFF, rate * block), block & 0xFFFF, bits)
    riff_size = min(0xFFFFFFFF, 4 + 8 + len(fmt) + 8 + data_bytes)
    return (b"RIFF" + struct.pack("<I", riff_size) + b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
            + b"data" + struct.pack("<I", min(0xFFFFFFFF, data_bytes)))  # fmt: skip


def _good_wav(path: Path, seconds: float, seed: int) -> None:
    write_audio(path, music_like(seconds, seed=seed))


KINDS: dict[str, Callable[[Path, int], None]] = {
    "empty.wav": lambda p, i: p.write_bytes(b""),
    "empty.mp3": lambda p, i: p.write_bytes(b""),
    "text.mp3": lambda p, i: p.write_text("these are the lyrics, not the song\n" * (i + 1)),
    "html.flac": lambda p, i: p.write_text("<html><body>404 Not Found</body></html>"),
    "random.ogg": lambda p, i: p.write_bytes(np.random.default_rng(i).bytes(5000 + i)),
    "zeros.m4a": lambda p, i: p.write_bytes(bytes(20000)),
    "header-only.wav": lambda p, i: p.write_bytes(_wav_header(44100, 2, 16, 0)),
    "claims-4gb.wav": lambda p, i: p.write_bytes(_wav_header(44100, 2, 16, 0xFFFFFFF0) + bytes(4096)),
    "claims-days.wav": lambda p, i: p.write_bytes(_wav_header(8000, 1, 8, 0x7FFFFFFF) + bytes(800)),
    "rate-zero.wav": lambda p, i: p.write_bytes(_wav_header(0, 1, 16, 2000) + bytes(2000)),
    "channels-65535.wav": lambda p, i: p.write_bytes(_wav_header(44100, 65535, 16, 4096) + bytes(4096)),
    "id3-only.mp3": lambda p, i: p.write_bytes(b"ID3\x04\x00\x00\x00\x00\x00\x10" + bytes(16)),
    "ogg-capture-only.ogg": lambda p, i: p.write_bytes(b"OggS" + bytes(60)),
    "one-sample.wav": lambda p, i: sf.write(p, np.array([0.5], np.float32), 22050),
    "six-channels.flac": lambda p, i: sf.write(p, np.full((22050, 6), 0.1, np.float32), 44100),
    "eight-bit.wav": lambda p, i: sf.write(p, music_like(4.0, seed=i), 22050, subtype="PCM_U8"),
    "nan-float.wav": lambda p, i: sf.write(p, np.full(44100, np.nan, np.float32), 22050, subtype="FLOAT"),
}


def _truncated(path: Path, i: int) -> None:
    _good_wav(path, 6.0, seed=i)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // (2 + i % 3)])


KINDS["truncated.wav"] = _truncated


def make_hostile_library(root: Path, copies: int = 2) -> int:
    """Write the library under ``root``; returns how many entries (files, links, folders) it has."""
    root.mkdir(parents=True, exist_ok=True)
    entries = 0
    for i in range(copies):
        folder = root / f"batch{i}"
        folder.mkdir()
        for name, make in KINDS.items():
            make(folder / name, i)
            entries += 1
        _good_wav(folder / "good.wav", 5.0 + i, seed=100 + i)
        os.symlink(".", folder / "loop")  # a folder that contains itself
        os.symlink("self.mp3", folder / "self.mp3")  # a link to itself (ELOOP)
        os.symlink("nowhere.flac", folder / "dangling.flac")
        os.symlink("/dev/zero", folder / "endless.wav")  # reading never ends
        os.symlink("/dev/urandom", folder / "noise.mp3")
        os.mkfifo(folder / "pipe.wav")  # opening blocks until a writer comes
        (folder / "folder.mp3").mkdir()  # a folder with an audio name
        locked = folder / "locked"
        locked.mkdir()
        _good_wav(locked / "inside.wav", 4.0, seed=200 + i)
        locked.chmod(0)
        (folder / "unreadable.wav").write_bytes(b"RIFF")
        (folder / "unreadable.wav").chmod(0)
        latin1 = os.fsencode(folder) + b"/caf\xe9 " + str(i).encode() + b"\n-.wav"
        _good_wav(folder / "tmp.wav", 4.0, seed=300 + i)
        os.rename(folder / "tmp.wav", latin1)  # soundfile cannot write to a non-UTF-8 name
        entries += 12
    return entries


def unlock(root: Path) -> None:
    """Give back permissions so pytest can delete the tree."""
    for path in root.rglob("*"):
        if not path.is_symlink() and (path.is_dir() or path.is_file()):
            path.chmod(0o755)
