"""The PyInstaller bundle's smoke test (scripts/bundle-smoke.sh), run only when asked.

Building the bundle takes minutes and ~1 GB, so the normal test run skips this. To run it:
``make bundle && SOUNDALIKE_BUNDLE_SMOKE=1 .venv/bin/pytest tests/test_bundle_smoke.py``
(``SOUNDALIKE_BUNDLE_DIST`` points at another bundle folder than dist/soundalike).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DIST = Path(os.environ.get("SOUNDALIKE_BUNDLE_DIST", ROOT / "dist" / "soundalike"))

pytestmark = pytest.mark.skipif(
    os.environ.get("SOUNDALIKE_BUNDLE_SMOKE") != "1",
    reason="bundle smoke test runs only with SOUNDALIKE_BUNDLE_SMOKE=1 (after make bundle)",
)


def test_bundled_executable_runs_cli_and_gui() -> None:
    if not (DIST / "soundalike").is_file():
        pytest.fail(f"no bundle at {DIST}: run `make bundle` first")
    done = subprocess.run(
        [str(ROOT / "scripts" / "bundle-smoke.sh"), str(DIST)],
        capture_output=True, text=True, timeout=1500,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("version", "embed", "index", "search", "gui"):
        assert f"ok   {step}" in done.stdout, done.stdout
