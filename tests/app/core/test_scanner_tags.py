"""Scanning folders as disks really are, and reading tags with mutagen."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from app.core.scanner import scan
from app.core.tags import parse_bpm, read_tags


def _touch(path, data=b"RIFF"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def test_scan_handles_loops_hidden_files_duplicates_and_broken_links(tmp_path) -> None:
    root = tmp_path / "music"
    _touch(root / "a.wav")
    _touch(root / "sub" / "b.FLAC")
    _touch(root / "sub" / "notes.txt")
    _touch(root / ".hidden" / "c.wav")
    _touch(root / ".d.mp3")
    os.symlink(root, root / "sub" / "loop")  # a folder that contains itself
    os.symlink(root / "a.wav", root / "sub" / "again.wav")  # the same file twice
    os.symlink(tmp_path / "gone.wav", root / "broken.wav")  # vanished target
    problems: list = []
    found = [f.path for f in scan([root, root / "sub"], problems)]
    assert found == [str(root / "a.wav"), str(root / "sub" / "b.FLAC")]
    assert problems == []


def test_scan_reports_missing_folders_and_accepts_single_files(tmp_path) -> None:
    single = _touch(tmp_path / "one.ogg")
    problems: list = []
    found = [f.path for f in scan([tmp_path / "missing", single], problems)]
    assert found == [str(single)]
    assert problems and "cannot open folder" in problems[0][1]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads everything; permissions cannot deny")
def test_scan_reports_unreadable_folders(tmp_path) -> None:
    locked = tmp_path / "locked"
    _touch(locked / "x.wav")
    locked.chmod(0)
    try:
        problems: list = []
        assert list(scan([tmp_path], problems)) == []
        assert problems[0][0] == str(locked)
    finally:
        locked.chmod(0o755)


def test_read_tags_from_flac(tmp_path) -> None:
    from mutagen.flac import FLAC

    path = tmp_path / "t.flac"
    sf.write(path, np.zeros(2205, np.float32), 22050)
    audio = FLAC(path)
    audio.update({"title": "Night Drive", "artist": "Kessel", "album": "Low",
                  "genre": ["Synthwave", "Electronic"], "mood": "dark", "bpm": "112"})
    audio.save()
    tags = read_tags(path)
    assert tags == {"title": "Night Drive", "artist": "Kessel", "album": "Low",
                    "genre": "Synthwave; Electronic", "mood": "dark", "bpm": 112.0}


def test_read_tags_never_raises(tmp_path) -> None:
    assert read_tags(_touch(tmp_path / "junk.mp3", b"\x00" * 100))["bpm"] is None
    assert read_tags(tmp_path / "missing.wav")["title"] == ""


@pytest.mark.parametrize(("text", "bpm"), [("120", 120.0), ("96.5 BPM", 96.5), ("0", None), ("", None), ("x", None)])
def test_parse_bpm(text, bpm) -> None:
    assert parse_bpm(text) == bpm
