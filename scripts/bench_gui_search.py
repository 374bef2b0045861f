#!/usr/bin/env python3
"""The GUI on a big library: first result after start, and slider re-rank + table repaint.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/bench_gui_search.py \\
        --data-dir DIR --clip CLIP [--model M] [--moves 60] [--t0 EPOCH]

``DIR`` holds the catalog as ``library.db`` (``soundalike bench latency`` builds a synthetic
one and runs this script). It starts the real services and main window, as ``soundalike
CLIP`` does, and prints:
- FIRST: seconds from ``--t0`` (the parent's clock before it started this process, so the
  interpreter's start and every import count; default: this script's first line) until the
  first results are in the table and the table has been painted, and the process's CPU time
  until then (all threads: on a loaded machine the wall time mostly measures the others);
- SLIDER: per slider move (``setValue`` on the real QSlider: the valueChanged signal, the
  synchronous re-rank on the GUI thread, the table model's update and a forced repaint of
  the table's viewport), p50/p95 in ms, wall and this thread's CPU time, and the share spent
  in the search itself.
"""

from __future__ import annotations

import time

T_IMPORT = time.time()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", required=True, type=Path)
    parser.add_argument("--clip", required=True)
    parser.add_argument("--model")
    parser.add_argument("--moves", type=int, default=60)
    parser.add_argument("--t0", type=float, default=T_IMPORT)
    parser.add_argument("--timeout", type=float, default=300)
    args = parser.parse_args()
    os.environ["SOUNDALIKE_DATA_DIR"] = str(args.data_dir)
    os.environ["SOUNDALIKE_CONFIG_DIR"] = tempfile.mkdtemp(prefix="soundalike-bench-config-")
    if args.model:
        os.environ["SOUNDALIKE_MODEL"] = str(Path(args.model).resolve())

    from PySide6.QtWidgets import QApplication

    from app.services.bootstrap import build_services
    from app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    services = build_services()
    window = MainWindow(services)
    window.show()
    first: dict[str, float] = {}

    def on_results(results: list) -> None:
        if results and "s" not in first:
            window.results.viewport().repaint()
            first["s"] = time.time() - args.t0
            first["cpu"] = time.process_time()  # every thread of this process since it started

    services.search.results_changed.connect(on_results)
    window.load_query(args.clip)
    services.library.refresh()
    services.warm_up()
    deadline = time.monotonic() + args.timeout
    while "s" not in first and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.002)
    if "s" not in first:
        print("FIRST none (timed out)")
        return 1
    runtime = type(services.search.backend.library.encoder).__name__
    print(f"FIRST {first['s']:.3f} s wall, {first['cpu']:.3f} s CPU (all threads), "
          f"{window.results.model().rowCount()} rows, query encoder {runtime}", flush=True)
    _slider_moves(app, window, services, args.moves)
    services.shutdown()
    return 0


def _slider_moves(app, window, services, moves: int) -> None:  # noqa: ANN001
    import numpy as np

    backend = services.search.backend
    spent: list[float] = []
    search = backend.search

    def timed_search(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        t = time.perf_counter()
        try:
            return search(*a, **kw)
        finally:
            spent.append(time.perf_counter() - t)

    backend.search = timed_search
    rng = np.random.default_rng(0)
    sliders = list(window.query_pane.sliders.values())
    wall, cpu, paint = [], [], []
    for i in range(moves):
        slider = sliders[i % len(sliders)]
        value = int(np.clip(slider.value() + rng.integers(-12, 13), 5, 100))
        if value == slider.value():
            value = 5 if value > 50 else 100
        app.processEvents()
        t, c = time.perf_counter(), time.thread_time()
        slider.setValue(value)
        c_paint = time.thread_time()
        window.results.viewport().repaint()
        wall.append(time.perf_counter() - t)
        cpu.append(time.thread_time() - c)
        paint.append(time.thread_time() - c_paint)
    backend.search = search

    def pct(values: list[float]) -> str:
        ms = np.asarray(values) * 1000
        return f"p50 {np.percentile(ms, 50):.1f} ms p95 {np.percentile(ms, 95):.1f} ms"

    print(f"SLIDER {moves} moves: wall {pct(wall)} | GUI-thread cpu {pct(cpu)}, of which the table's "
          f"repaint {pct(paint)} | search alone (wall) {pct(spent)}")


if __name__ == "__main__":
    sys.exit(main())
