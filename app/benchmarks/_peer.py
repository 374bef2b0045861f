"""``bench index --against bliss``: soundalike's throughput against bliss-rs's, side by side.

bliss-rs is the hand-made-feature analyser music-player users run; its Python binding
``bliss-audio`` (the ``bench`` extra, never a dependency of the app) analyses one file per
``Song(path)``. Each round runs, on the same files, ``soundalike index`` (into a fresh
catalog), bliss with one process per core, and ``soundalike embed``, each as a fresh
process (start-up and model loading included, as a user meets them); the order alternates
between rounds. On a shared, noisy machine only the ratio within a round means much, so
each round's ratios are printed and summarised by their median.

Two measures, printed side by side: wall time (the user's wait; distorted on a shared
machine, where each contender gets what the other jobs leave it) and CPU time, user plus
system, of the contender's whole process tree (what it costs; steadier under load). For the
CPU figure this process becomes a child subreaper (Linux): workers orphaned when their parent
exits (the forkserver's decoders) are re-parented here and reaped, so their time counts too.
"""

from __future__ import annotations

import ctypes
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.cli import CliError

# Runs bliss on the paths after argv[1] with argv[1] processes; prints the files analysed.
# bliss-audio 0.2 panics on some Vorbis files ("wrong codec opened"): caught below.
BLISS_SCRIPT = """
import sys
from multiprocessing import Pool

from bliss_audio import Song

def analyse(path):
    try:
        Song(path)
        return 1
    except BaseException:  # a Rust panic (pyo3's PanicException) is not an Exception; uncaught,
        return 0           # it kills the pool's worker and the pool waits for it forever

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


@dataclass(frozen=True)
class Cost:
    """One contender's run: wall seconds and CPU seconds of its process tree."""

    wall: float
    cpu: float


PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


def become_subreaper() -> bool:
    """Adopt orphaned descendants (Linux), so that reaping them counts their CPU time."""
    try:
        return ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def _child_pids() -> set[int]:
    """This process's children, adopted orphans included (Linux's /proc; empty elsewhere)."""
    pids: set[int] = set()
    for task in Path("/proc/self/task").glob("*/children"):
        try:
            pids.update(int(pid) for pid in task.read_text().split())
        except OSError:
            continue
    return pids


def _reap_orphans(known: set[int]) -> None:
    """Wait for the children that appeared since ``known`` (a contender's adopted workers)."""
    while new := _child_pids() - known:
        for pid in new:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                known.add(pid)  # reaped by its own code meanwhile


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _timed(cmd: Sequence[str]) -> Cost:
    cpu, known = _children_cpu(), _child_pids()
    start = time.perf_counter()
    result = subprocess.run(list(cmd), capture_output=True, text=True)
    wall = time.perf_counter() - start
    _reap_orphans(known)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines() or ["no output"]
        raise CliError(f"{' '.join(cmd[:4])} ... failed: {lines[-1]}")
    return Cost(wall, _children_cpu() - cpu)


def runners(
    folder: Path, paths: Sequence[Path], model: Path, processes: int, scratch: Path, device: str = "cpu"
) -> dict[str, Callable[[], Cost]]:
    """Runners of the three contenders on the same files, each returning its ``Cost``."""
    soundalike = [sys.executable, "-m", "app"]
    model_args = ["--model", str(model), "--device", device]

    def index() -> Cost:
        with tempfile.TemporaryDirectory(dir=scratch) as tmp:
            return _timed([*soundalike, "index", str(folder), "--db", f"{tmp}/bench.db", *model_args])

    def embed() -> Cost:
        return _timed([*soundalike, "embed", *map(str, paths), "-o", str(scratch / "bench.npz"),
                       *model_args])  # fmt: skip

    def bliss() -> Cost:
        return _timed([sys.executable, "-c", BLISS_SCRIPT, str(processes), *map(str, paths)])

    return {"index": index, "bliss": bliss, "embed": embed}


def decoders_alone(paths: Sequence[Path], device: str) -> Cost:
    """The indexer's decoders on ``paths``, for ``device``, with no network (app/benchmarks/_decoders.py)."""
    return _timed([sys.executable, "-m", "app.benchmarks._decoders", device, *map(str, paths)])


def median_ratios(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Median over rounds of each contender's throughput over bliss's (same audio: time ratio)."""
    return {
        name: statistics.median(r["bliss"] / r[name] for r in rounds)
        for name in rounds[0] if name != "bliss"
    }  # fmt: skip


def versus_bliss(run: dict[str, Callable[[], Cost]], audio_s: float, rounds: int) -> None:
    """Alternate the contenders for ``rounds`` rounds; print throughputs and ratios, by wall
    time and by CPU time (x realtime per CPU-second)."""
    order = list(run)
    walls: list[dict[str, float]] = []
    cpus: list[dict[str, float]] = []
    for n in range(rounds):
        costs = {name: run[name]() for name in (order if n % 2 == 0 else order[::-1])}
        walls.append({name: c.wall for name, c in costs.items()})
        cpus.append({name: c.cpu for name, c in costs.items()})
        for label, times in (("wall", walls[-1]), ("CPU ", cpus[-1])):
            rates = "  ".join(f"{name} {audio_s / times[name]:6.0f}x" for name in order)
            ratios = "  ".join(f"{name}/bliss {times['bliss'] / times[name]:.2f}"
                               for name in order if name != "bliss")  # fmt: skip
            print(f"   round {n + 1} {label}: {rates}   ({ratios})")
    for label, times in (("wall time", walls), ("CPU time ", cpus)):
        summary = "  ".join(f"{name}/bliss {ratio:.2f}x" for name, ratio in median_ratios(times).items())
        print(f"   median over {rounds} rounds, {label}: {summary}")
