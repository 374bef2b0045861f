#!/usr/bin/env python3
"""Event-loop delay of the GUI thread while the library is indexed in the background.

    QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/bench_gui_latency.py --library DIR [--model M]

Runs the real services (real indexer, encoder, catalog) in a fresh temporary data dir and
shows the real main window. A 10 ms QTimer measures how late each tick fires while
indexing runs; prints p50/p95/max delay in ms and the load average (the target is
p95 < 50 ms: the window never feels frozen).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fresh_home import fresh_home  # noqa: E402 - scripts/, next to this file

TICK_MS = 10


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", required=True)
    parser.add_argument("--model")
    parser.add_argument("--timeout", type=float, default=900)
    parser.add_argument("--warm", action="store_true",
                        help="import torch/faiss and the indexer before measuring (steady state, "
                             "without the one-time library loading at startup)")
    args = parser.parse_args()
    fresh_home("soundalike-bench-", args.model)

    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from app.services.bootstrap import build_services
    from app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    if args.warm:
        import importlib

        for name in ("model.encoder", "app.core.indexer", "app.core.library"):
            importlib.import_module(name)
    services = build_services()
    window = MainWindow(services)
    window.show()
    delays: list[float] = []
    stamps: list[float] = []
    t0 = time.perf_counter()
    state = {"last": time.perf_counter(), "done": False, "progress": 0}

    def tick() -> None:
        now = time.perf_counter()
        delays.append(max(0.0, (now - state["last"]) * 1000 - TICK_MS))
        stamps.append(now - t0)
        state["last"] = now

    timer = QTimer()
    timer.setInterval(TICK_MS)
    timer.timeout.connect(tick)
    services.library.indexing_finished.connect(lambda _m: state.__setitem__("done", True))
    services.library.progress_changed.connect(lambda _p: state.__setitem__("progress", state["progress"] + 1))
    started = time.monotonic()
    services.library.add_folder(str(Path(args.library).resolve()))
    state["last"] = time.perf_counter()
    timer.start()
    while not state["done"] and time.monotonic() - started < args.timeout:
        app.processEvents()
        time.sleep(0.001)
    timer.stop()
    elapsed = time.monotonic() - started
    d = np.asarray(delays)
    print(f"indexing took {elapsed:.1f} s; {len(d)} ticks of {TICK_MS} ms; "
          f"{state['progress']} progress signals reached the GUI thread")
    print(f"event-loop delay ms: p50 {np.percentile(d, 50):.1f}  p95 {np.percentile(d, 95):.1f}  "
          f"p99 {np.percentile(d, 99):.1f}  max {d.max():.1f}")
    worst = np.argsort(d)[-5:][::-1]
    print("worst delays (ms at s): " + ", ".join(f"{d[i]:.0f} at {stamps[i]:.1f}" for i in worst))
    print(f"load average: {os.getloadavg()}")
    services.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
