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


def test_the_decoders_alone_run_the_indexers_workers_on_every_file(tmp_path: Path) -> None:
    """`bench index`'s baseline for the CUDA target: a fresh process decoding as the indexer
    does (in pieces of ``PIECE_WINDOWS`` windows), with no model."""
    from app.core.indexer import PIECE_WINDOWS
    from model.audio import stream_windows

    songs = [write_audio(tmp_path / f"{i}.ogg", music_like(seconds, seed=i)) for i, seconds in enumerate((60.0, 7.0))]
    result = subprocess.run([sys.executable, "-m", "app.benchmarks._decoders", "cpu", *map(str, songs)],
                            capture_output=True, text=True, timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stderr
    pieces = sum(1 for song in songs for _ in stream_windows(song, PIECE_WINDOWS))
    assert pieces == 3 and result.stdout.strip() == "3 pieces from 2 files"


def test_race_ratios_are_medians_of_each_round() -> None:
    from app.benchmarks._peer import median_ratios

    rounds = [{"index": 10.0, "bliss": 12.0, "embed": 8.0}, {"index": 20.0, "bliss": 12.0, "embed": 6.0},
              {"index": 6.0, "bliss": 12.0, "embed": 12.0}]  # fmt: skip
    assert median_ratios(rounds) == {"index": 1.2, "embed": 1.5}


def test_race_against_bliss_runs_every_contender_in_alternating_order(capsys) -> None:
    from app.benchmarks._peer import Cost, versus_bliss

    calls: list[str] = []

    def runner(name: str, wall: float, cpu: float):
        return lambda: calls.append(name) or Cost(wall, cpu)

    versus_bliss({"index": runner("index", 2.0, 4.0), "bliss": runner("bliss", 3.0, 2.0),
                  "embed": runner("embed", 1.5, 1.0)}, audio_s=600.0, rounds=2)  # fmt: skip
    assert calls == ["index", "bliss", "embed", "embed", "bliss", "index"]
    out = capsys.readouterr().out
    assert "index    300x" in out and "index/bliss 1.50" in out and "embed/bliss 2.00x" in out  # wall
    assert "index    150x" in out and "index/bliss 0.50" in out and "embed/bliss 2.00x" in out  # CPU
    assert "wall time: index/bliss 1.50x" in out and "CPU time : index/bliss 0.50x" in out


def test_race_cpu_time_counts_workers_that_outlive_their_parent() -> None:
    """A forkserver's decoders outlive the command's main process: their CPU must count."""
    from app.benchmarks._peer import _timed, become_subreaper

    if not become_subreaper():
        return  # not Linux: documented as uncounted
    spin = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    orphan = f"import os, subprocess, sys; subprocess.Popen([sys.executable, '-c', {spin!r}]); os._exit(0)"
    cost = _timed([sys.executable, "-c", orphan])
    assert cost.cpu >= 0.3, cost  # the grandchild's 0.3 s, reaped after its parent exited


def test_bench_latency_times_cli_searches_on_a_synthetic_catalog(tmp_path: Path) -> None:
    from tests.model_files import make_model

    model = make_model(tmp_path / "m.pt")
    result = subprocess.run(
        [sys.executable, "-m", "app", "bench", "latency", "--tracks", "300", "--windows", "8",
         "--catalog-dir", str(tmp_path / "bench"), "--model", str(model), "--runs", "1", "--no-gui",
         "--no-export"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if "CLI search" in line]
    assert len(lines) == 2 and all("torch" in line and "p95" in line for line in lines)  # no export: torch only
    assert (tmp_path / "bench" / "library.db").is_file()


def test_other_commands_do_not_import_the_benchmarks() -> None:
    """Only `bench` configures (imports) the benchmark modules: a search must not pay for them."""
    probe = (
        "import sys; from app.cli import parse_args; args = parse_args(sys.argv[1:]); "
        "print(args.command, sorted(m for m in sys.modules if m.startswith('app.benchmarks.')))"
    )

    def loaded(*argv: str) -> str:
        result = subprocess.run(
            [sys.executable, "-c", probe, *argv], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    assert loaded("-v", "search", "clip.wav", "-k", "3") == "search []"
    assert "app.benchmarks.encode" in loaded("bench", "encode", "--files", "x.wav")
