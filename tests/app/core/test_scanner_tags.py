"""Scanning folders as disks really are, and reading tags with mutagen."""

from __future__ import annotations

import os
from pathlib import Path

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


def _as_nobody(work):  # noqa: ANN001, ANN202
    """``work()`` in a forked child without root's rights (root reads everything); its result."""
    import json

    if os.geteuid() != 0:
        return work()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: drop to nobody, run, report, exit without pytest's teardown
        try:
            os.setgroups([])
            os.setresgid(65534, 65534, 65534)
            os.setresuid(65534, 65534, 65534)
            os.write(write, json.dumps(work()).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(text)


def test_scan_reports_unreadable_folders_and_files() -> None:
    import shutil
    import tempfile

    base = Path(tempfile.mkdtemp(prefix="soundalike-scan-"))  # not under root's private tmp
    try:
        base.chmod(0o755)
        locked = base / "locked"
        _touch(locked / "x.wav")
        locked.chmod(0)
        _touch(base / "secret.flac").chmod(0)
        readable = _touch(base / "ok.ogg")
        readable.chmod(0o644)

        def work():  # noqa: ANN202
            problems: list = []
            return [f.path for f in scan([base], problems)], problems

        found, problems = _as_nobody(work)
        assert found == [str(readable)]
        assert sorted(tuple(p) for p in problems) == [
            (str(locked), "cannot list folder: Permission denied"), (str(base / "secret.flac"), "permission denied"),
        ]  # fmt: skip
    finally:
        (base / "locked").chmod(0o755)
        shutil.rmtree(base, ignore_errors=True)


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
