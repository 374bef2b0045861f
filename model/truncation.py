"""Cheap container checks that catch truncated WAV and OGG files libsndfile would accept.

libsndfile trims a cut-off WAV's length to the bytes present and ends an OGG stream at its
last complete page, so both decode "successfully" as a shorter file. A half-copied download
should be reported, not indexed as a shorter track, so we read the few header bytes that
say how long the file ought to be. (MP3 and FLAC truncation surfaces during decoding.)
"""

from __future__ import annotations

import struct
from pathlib import Path


def truncation_reason(path: Path) -> str | None:
    """A one-line reason when the container says the file is longer than it is, else None."""
    try:
        with open(path, "rb") as f:
            head = f.read(12)
            if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
                return _wav_reason(f, path.stat().st_size)
            if head[:4] == b"OggS":
                return _ogg_reason(f, path.stat().st_size)
    except OSError:
        return None
    return None


def _wav_reason(f, size: int) -> str | None:
    """Walk RIFF chunks to ``data`` and compare its declared size with the bytes present."""
    position = 12
    while position + 8 <= size:
        f.seek(position)
        chunk_id, chunk_size = struct.unpack("<4sI", f.read(8))
        if chunk_id == b"data":
            if chunk_size in (0, 0xFFFFFFFF):  # streaming writers / RF64 leave it unset
                return None
            present = size - position - 8
            if present < chunk_size:
                return f"truncated file: {present} of {chunk_size} audio bytes present"
            return None
        position += 8 + chunk_size + (chunk_size & 1)
    return None


def _ogg_reason(f, size: int) -> str | None:
    """Walk the Ogg pages (27-byte header + segment table + body) to the end of the file.

    Only headers are read (a few thousand small reads for an hour of audio). The walk stops
    quietly at anything that is not a page: corrupt data is the decoder's to report.
    """
    position = 0
    while position < size:
        f.seek(position)
        header = f.read(27)
        if len(header) < 27:
            return "truncated file: last Ogg page is cut off"
        if header[:4] != b"OggS":
            return None
        table = f.read(header[26])
        if len(table) < header[26]:
            return "truncated file: last Ogg page is cut off"
        position += 27 + len(table) + sum(table)
    if position > size:
        return "truncated file: last Ogg page is cut off"
    return None
