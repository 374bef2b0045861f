"""``bench index --against bliss``: soundalike's throughput against bliss-rs's, side by side.

bliss-rs is the hand-made-feature analyser music-player users run; its Python binding
``bliss-audio`` (the ``bench`` extra, never a dependency of the app) analyses one file per
``Song(path)``. Each round runs, on the same files, ``soundalike index`` (into a fresh
catalog), bliss with one process per core, and ``soundalike embed``, each as a fresh
process (start-up and model loading included, as a user meets them); the order alternates
between rounds. On a shared, noisy machine only the ratio within a round means much, so
each round's ratios are printed and summarised by their median.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from app.cli import CliError

# Runs bliss on the paths after argv[1] with argv[1] processes; prints the files analysed.
BLISS_SCRIPT = """
import sys
from multiprocessing import Pool

from bliss_audio import Song

def analyse(path):
    try:
        Song(path)
        return 1
    except Exception:
        return 0

if __name__ == "__main__":
    with Pool(int(sys.argv[1])) as pool:
        print(sum(pool.imap_unordered(analyse, sys.argv[2:], chunksize=1)))
"""


def check_bliss() -> None:
    """Raise ``CliError`` with the install line when bliss-audio is missing."""
    try:
        import bliss_audio  # noqa: F401
    except ImportError as exc:
        raise CliError("bliss-audio is not installed: pip install -e '.[bench]'") from exc


def _timed(cmd: Sequence[str]) -> float:
    start = time.perf_counter()
    result = subprocess.run(list(cmd), capture_output=True, text=True)
    wall = time.perf_counter() - start
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise CliError(f"{' '.join(cmd[:4])} ... failed: {lines[-1]}")
    return wall


def runners(
    folder: Path, paths: Sequence[Path], model: Path, processes: int, scratch: Path
) -> dict[str, Callable[[], float]]:
    """Wall-time runners of the three contenders on the same files."""
    soundalike = [sys.executable, "-m", "app"]
    model_args = ["--model", str(model), "--device", "cpu"]

    def index() -> float:
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            return _timed([*soundalike, "index", str(folder), "--db", f"{tmp}/bench.db", *model_args])

    def embed() -> float:
        return _timed([*soundalike, "embed", *map(str, paths), "-o", str(scratch / "bench.npz"),
                       *model_args])  # fmt: skip

    def bliss() -> float:
        return _timed([sys.executable, "-c", BLISS_SCRIPT, str(processes), *map(str, paths)])

    return {"index": index, "bliss": bliss, "embed": embed}


def median_ratios(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Median over rounds of each contender's throughput over bliss's (same audio: time ratio)."""
    return {
        name: statistics.median(r["bliss"] / r[name] for r in rounds)
        for name in rounds[0] if name != "bliss"
    }  # fmt: skip


def versus_bliss(run: dict[str, Callable[[], float]], audio_s: float, rounds: int) -> None:
    """Alternate the contenders for ``rounds`` rounds; print throughputs and ratios."""
    order = list(run)
    results: list[dict[str, float]] = []
    for n in range(rounds):
        walls = {name: run[name]() for name in (order if n % 2 == 0 else order[::-1])}
        results.append(walls)
        rates = "  ".join(f"{name} {audio_s / walls[name]:6.0f}x" for name in order)
        ratios = "  ".join(f"{name}/bliss {walls['bliss'] / walls[name]:.2f}"
                           for name in order if name != "bliss")  # fmt: skip
        print(f"   round {n + 1}: {rates}   ({ratios})")
    summary = "  ".join(f"{name}/bliss {ratio:.2f}x" for name, ratio in median_ratios(results).items())
    print(f"   median over {rounds} rounds: {summary}")
