"""``soundalike bench``: benchmarks are discovered, and `bench encode` reports every stage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from app.commands.bench import available
from tests.synth_audio import music_like, write_audio


def test_benchmarks_are_discovered() -> None:
    assert "encode" in available()


def test_bench_encode_prints_each_stage(tmp_path: Path) -> None:
    song = write_audio(tmp_path / "a.ogg", music_like(7.0, seed=1))
    result = subprocess.run(
        [sys.executable, "-m", "app", "bench", "encode", "--files", str(song),
         "--device", "cpu", "--threads", "1"],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for stage in ("decode", "front end", "network fp32", "end to end", "GFLOPs per window"):
        assert stage in result.stdout
