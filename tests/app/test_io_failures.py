"""I/O failures give one line and leave the catalog intact; the next run resumes.

The full disk is real: a small tmpfs (tests run as root in CI; skipped where mounting is
not permitted). Read-only catalog: the same tmpfs remounted read-only.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from app.cli import main
from tests.app.library_helpers import make_library, make_model


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MiB tmpfs at ``tmp_path / "disk"`` (unmounted afterwards)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(disk)],
                          capture_output=True, check=False)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode(errors='replace').strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, leave_bytes: int) -> Path:
    """Fill ``disk`` up to ``leave_bytes`` free with one file (deleted to free the space)."""
    filler = disk / "filler"
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    with open(filler, "wb") as handle:
        handle.write(b"\0" * max(0, free - leave_bytes))
    return filler


def _integrity(db: Path) -> str:
    raw = sqlite3.connect(db)
    try:
        return str(raw.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        raw.close()


def test_full_disk_stops_with_one_line_and_the_next_run_completes(tmp_path, small_disk, capsys) -> None:
    model = make_model(tmp_path / "m.pt")
    make_library(tmp_path / "music", n=8, seconds=30)
    db = small_disk / "lib.db"
    args = ["index", str(tmp_path / "music"), "--db", str(db), "--model", str(model),
            "--workers", "0", "--batch-windows", "8"]
    make_library(tmp_path / "first", n=1, seconds=6)
    assert main([*args[:1], str(tmp_path / "first"), *args[2:]]) == 0  # the catalog exists
    filler = _fill(small_disk, leave_bytes=96 * 1024)
    capsys.readouterr()
    assert main(args) == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("soundalike:")]
    assert len(lines) == 1 and "disk is full" in lines[0] and "Traceback" not in err
    assert _integrity(db) == "ok"
    filler.unlink()
    assert main(args) == 0
    assert "8 files to index" not in capsys.readouterr().err  # resumed: finished batches kept
    raw = sqlite3.connect(db)
    assert raw.execute("SELECT count(*) FROM tracks WHERE status='ok'").fetchone()[0] == 9
    raw.close()
    assert _integrity(db) == "ok"


def test_read_only_catalog_is_searched_and_refuses_writes_in_one_line(tmp_path, small_disk, capsys) -> None:
    model = make_model(tmp_path / "m.pt")
    paths = make_library(tmp_path / "music", n=2, seconds=6)
    db = small_disk / "lib.db"
    base = ["--db", str(db), "--model", str(model)]
    assert main(["index", str(tmp_path / "music"), *base, "--workers", "0"]) == 0
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    capsys.readouterr()
    assert main(["search", str(paths[0]), *base, "--json"]) == 0
    assert str(paths[1]) in capsys.readouterr().out
    make_library(tmp_path / "music" / "more", n=1, seconds=6)
    assert main(["index", str(tmp_path / "music"), *base, "--workers", "0"]) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "Traceback" not in err


def test_catalog_on_a_vanished_drive_is_one_line(tmp_path, capsys) -> None:
    model = make_model(tmp_path / "m.pt")
    gone = tmp_path / "unplugged"
    gone.write_text("a file where the drive's folder was")  # the folder cannot be created either
    code = main(["search", str(model), "--db", str(gone / "lib.db"), "--model", str(model)])
    assert code != 0 and "no library at" in capsys.readouterr().err
    make_library(tmp_path / "music", n=1, seconds=4)
    assert main(["index", str(tmp_path / "music"), "--db", str(gone / "lib.db"), "--model", str(model)]) != 0
    err = capsys.readouterr().err
    assert "cannot create library" in err and "Traceback" not in err


def test_permission_denied_as_another_user_is_one_line(tmp_path_factory) -> None:
    """Run as ``nobody`` (root reads everything, so permissions are only real for another user)."""
    import shutil
    import sys
    import tempfile

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to run the CLI as another user")
    nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable]
    probe = subprocess.run([*nobody, "-c", "import app"], capture_output=True, check=False,
                           cwd=Path(__file__).resolve().parents[2])  # fmt: skip
    if probe.returncode != 0:  # e.g. a checkout under /root: another user cannot run it at all
        pytest.skip("user nobody cannot run this checkout's Python")
    base = Path(tempfile.mkdtemp(prefix="soundalike-perm-"))
    try:
        base.chmod(0o755)
        model = make_model(base / "m.pt")
        paths = make_library(base / "music", n=3, seconds=5)
        db = base / "lib.db"
        assert main(["index", str(base / "music"), "--db", str(db), "--model", str(model), "--workers", "0"]) == 0
        (base / "music" / "private").mkdir(mode=0o700)
        make_library(base / "music" / "private", n=1, seconds=4)
        paths[0].chmod(0o600)  # a file only root may read
        make_library(base / "music" / "new", n=1, seconds=4)  # something to write: the catalog is not ours

        def as_nobody(*args: str) -> subprocess.CompletedProcess[str]:
            env = {"PATH": os.environ.get("PATH", ""), "HOME": str(base), "SOUNDALIKE_DATA_DIR": str(base / "data")}
            return subprocess.run([*nobody, "-m", "app", *args], capture_output=True, text=True, timeout=180, env=env,
                                  cwd=Path(__file__).resolve().parents[2], check=False)  # fmt: skip

        index = as_nobody("index", str(base / "music"), "--db", str(db), "--model", str(model), "--workers", "0")
        assert index.returncode == 1 and "Traceback" not in index.stderr, index.stderr
        assert "read-only" in index.stderr.splitlines()[-1]
        assert [line for line in index.stderr.splitlines() if line.startswith("soundalike:")] == index.stderr.splitlines()[-1:]
        search = as_nobody("search", str(paths[1]), "--db", str(db), "--model", str(model), "--json")
        assert search.returncode == 0 and str(paths[2]) in search.stdout, search.stderr
        assert _integrity(db) == "ok"
    finally:
        subprocess.run(["chmod", "-R", "u+rwX", str(base)], check=False)
        shutil.rmtree(base, ignore_errors=True)
