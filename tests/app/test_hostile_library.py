"""A library of broken, disguised and dangerous files indexes without a hang or a traceback."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.app.hostile_library import KINDS, make_hostile_library, unlock
from tests.app.library_helpers import make_model

ROOT = Path(__file__).resolve().parents[2]


def _index(lib: Path, db: Path, model: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "app", "index", str(lib), "--db", str(db), "--model", str(model), "--workers", "1"],
        capture_output=True, text=True, errors="backslashreplace", timeout=240, env=env, check=False,
    )  # fmt: skip


def test_hostile_library_indexes_without_hang_or_traceback(tmp_path) -> None:
    lib, db = tmp_path / "lib", tmp_path / "lib.db"
    entries = make_hostile_library(lib, copies=2)
    assert entries == 2 * (len(KINDS) + 12)
    model = make_model(tmp_path / "m.pt")
    try:
        first = _index(lib, db, model)  # a FIFO, /dev/zero or a symlink loop would hang here
        again = _index(lib, db, model)
    finally:
        unlock(lib)
    assert first.returncode == 0 and "Traceback" not in first.stderr, first.stderr[-2000:]
    root = os.geteuid() == 0  # root reads the chmod-0 file and folder; others are told "permission denied"
    failures = [line for line in first.stderr.splitlines() if line.startswith("failed: ")]
    assert len(failures) == 2 * (15 if root else 14) and all(".wav" in f or ".mp3" in f or ".flac" in f or ".ogg" in f or ".m4a" in f
                                           for f in failures)  # fmt: skip
    raw = sqlite3.connect(db)
    ok = {os.path.basename(os.fsdecode(p)) for (p,) in raw.execute("SELECT path FROM tracks WHERE status='ok'")}
    assert {"good.wav", "one-sample.wav", "six-channels.flac", "eight-bit.wav", "nan-float.wav"} <= ok
    assert ("inside.wav" in ok) == root
    assert any(name.startswith("caf\udce9") for name in ok)  # the Latin-1 name
    assert raw.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    raw.close()
    assert again.returncode == 0 and "failed: " not in again.stderr  # broken files are not retried
