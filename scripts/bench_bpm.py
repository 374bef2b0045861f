"""BPM measured from the audio (model.bpm) against labelled BPMs, allowing octave errors.

    .venv/bin/python scripts/bench_bpm.py resources/demo data/corpus

Each folder holds labels.csv with ``path`` (relative to the folder) and ``bpm`` columns.
Reported per folder: within 4 % of the label, within 4 % of it or its double/half, and
also allowing triple/third (MIREX "accuracy 2"); files with no clear beat count as wrong.
"""

from __future__ import annotations

import csv
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from model.audio import load_audio  # noqa: E402
from model.bpm import estimate_bpm  # noqa: E402

TOLERANCE = 0.04


def within(estimate: float, label: float, factors: tuple[float, ...]) -> bool:
    return any(abs(estimate * f - label) <= TOLERANCE * label for f in factors)


def bench(folder: Path) -> None:
    rows = list(csv.DictReader((folder / "labels.csv").open()))
    exact = octave = mirex = none = 0
    seconds = 0.0
    for row in rows:
        samples = load_audio(folder / row["path"])
        started = time.process_time()
        estimate = estimate_bpm(samples)
        seconds += time.process_time() - started
        label = float(row["bpm"])
        if estimate is None:
            none += 1
            continue
        exact += within(estimate, label, (1.0,))
        octave += within(estimate, label, (1.0, 2.0, 0.5))
        mirex += within(estimate, label, (1.0, 2.0, 0.5, 3.0, 1 / 3))
    n = len(rows)
    print(f"{folder}: {n} files; within 4 %: {exact / n:.0%}, allowing x2 and x1/2: {octave / n:.0%}, "
          f"also x3 and x1/3: {mirex / n:.0%}; no beat found: {none}; {1000 * seconds / n:.0f} ms CPU per file")


if __name__ == "__main__":
    for arg in sys.argv[1:] or ["resources/demo"]:
        bench(Path(arg))
