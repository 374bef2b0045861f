"""``soundalike bench latency``: what a user waits for on a big library, process start included.

On a synthetic catalog (app/benchmarks/_catalog.py; built once and kept in ``--catalog-dir``):
- CLI: ``soundalike search CLIP --db CATALOG -k 10 --json`` as a fresh process each run
  (interpreter start, imports, vector load, query decode + embed, search, JSON out), p50/p95
  of wall and CPU time (user + system, the child's), for each query runtime (the model's
  ONNX export when there is one, and torch) and with the vector cache warm or deleted
  before each run (the cache is rebuilt from SQLite then);
- GUI (source checkouts: scripts/bench_gui_search.py, offscreen Qt): the first result after
  start, and slider re-rank + table repaint per move.
The query is a 30-s 44.1 kHz stereo MP3 (sine + noise), decoded and embedded every run.
The model is ``--model``, else the shipped default; an ONNX export is made beside a copy
of it in the catalog's folder when the model has none (``--no-export``: torch only).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HELP = "CLI search latency with process start, GUI first result and slider re-rank on a 100k-track catalog"
ROOT = Path(__file__).resolve().parents[2]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tracks", type=int, default=100_000, help="catalog size (default 100000)")
    parser.add_argument("--windows", type=int, default=60, help="windows per track (default 60: 3 minutes)")
    parser.add_argument("--catalog-dir", type=Path,
                        help="folder for the catalog (library.db, kept and reused) and a model copy; "
                             "default: soundalike-bench-N in the temp dir")
    parser.add_argument("--model", type=Path, help="model file (default: the shipped one)")
    parser.add_argument("--runs", type=int, default=7, help="CLI searches per setting")
    parser.add_argument("--moves", type=int, default=60, help="slider moves in the GUI part")
    parser.add_argument("--no-gui", action="store_true", help="skip the GUI part")
    parser.add_argument("--no-export", action="store_true", help="do not make an ONNX export")


def _pct(values: list[float], unit: float = 1.0, fmt: str = "{:.2f}") -> str:
    import numpy as np

    v = np.asarray(values) * unit
    return f"p50 {fmt.format(np.percentile(v, 50))} p95 {fmt.format(np.percentile(v, 95))}"


def _cli_runs(args: argparse.Namespace, db: Path, model: Path, clip: Path, runtime: str, cold: bool) -> str:
    env = {**os.environ, "SOUNDALIKE_RUNTIME": runtime}
    command = [sys.executable, "-m", "app", "search", str(clip), "--db", str(db), "--model", str(model),
               "-k", "10", "--json"]  # fmt: skip
    cache = Path(f"{db}.{_model_id(model)}.vectors")
    wall, cpu = [], []
    for i in range(args.runs + 1):
        if cold:
            cache.unlink(missing_ok=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
        elapsed = time.perf_counter() - t
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if done.returncode != 0:
            raise SystemExit(f"search failed: {done.stderr.strip().splitlines()[-1:]}")
        if i:  # the first run warms the page cache (and, warm, writes the vector cache)
            wall.append(elapsed)
            cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return f"wall {_pct(wall)} s | CPU {_pct(cpu)} s"


def _model_id(path: Path) -> str:
    from model.model_id import model_id_of

    return model_id_of(path)


def _query_clip(folder: Path) -> Path:
    import numpy as np
    import soundfile as sf

    path = folder / "query-30s.mp3"
    if not path.is_file():
        rng = np.random.default_rng(1)
        sr = 44100
        t = np.arange(30 * sr) / sr
        clip = (0.3 * np.sin(2 * np.pi * 220 * t) + 0.05 * rng.standard_normal(t.size)).astype(np.float32)
        sf.write(str(path), np.stack([clip, clip], 1), sr, format="MP3", subtype="MPEG_LAYER_III")
    return path


def _prepare(args: argparse.Namespace) -> tuple[Path, Path, Path, bool]:
    """(catalog, model, clip, has ONNX export): the catalog is ``library.db`` in its own folder
    (the GUI part points its data dir there)."""
    from app.benchmarks._catalog import build_catalog
    from app.benchmarks._model import bench_model
    from model.onnx_encoder import load_onnx_encoder, onnx_path

    folder = args.catalog_dir or Path(tempfile.gettempdir()) / f"soundalike-bench-{args.tracks}"
    db = folder / "library.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    source, _note = bench_model(args.model, db.parent)
    model = db.parent / "model.pt"  # a copy: an export is written beside it, never beside yours
    if not model.is_file() or _model_id(model) != _model_id(source):
        shutil.copyfile(source, model)
        onnx_path(model).unlink(missing_ok=True)
    if onnx_path(source).is_file() and not onnx_path(model).is_file():
        shutil.copyfile(onnx_path(source), onnx_path(model))
    if not args.no_export and load_onnx_encoder(model) is None:
        from model.export_onnx import export

        export(model)
    t = time.perf_counter()
    build_catalog(db, args.tracks, model, windows=args.windows,
                  progress=lambda n: print(f"\r  catalog: {n:,} tracks", end="", file=sys.stderr, flush=True))
    print(f"\ncatalog {db} ready in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    return db, model, _query_clip(db.parent), load_onnx_encoder(model) is not None


def run(args: argparse.Namespace) -> int:
    db, model, clip, exported = _prepare(args)
    print(f"soundalike bench latency: {args.tracks:,} synthetic tracks x {args.windows} windows, "
          f"cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}, {args.runs} runs each")
    runtimes = (["auto"] if exported else []) + ["torch"]
    for runtime in runtimes:
        name = "onnx" if runtime == "auto" else "torch"
        for cold in (False, True):
            what = "vector cache deleted before each run" if cold else "vector cache warm"
            print(f"  CLI search, query on {name:5s}, {what:37s}: "
                  f"{_cli_runs(args, db, model, clip, runtime, cold)}", flush=True)
    script = ROOT / "scripts" / "bench_gui_search.py"
    if not args.no_gui and script.is_file():
        env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
        t0 = time.time()
        done = subprocess.run([sys.executable, str(script), "--data-dir", str(db.parent), "--clip", str(clip),
                               "--model", str(model), "--moves", str(args.moves), "--t0", repr(t0)],
                              capture_output=True, text=True, env=env, cwd=ROOT, check=False)  # fmt: skip
        lines = [line for line in done.stdout.splitlines() if line.startswith(("FIRST", "SLIDER"))]
        for line in lines or [f"GUI part failed: {done.stderr.strip().splitlines()[-1:]}"]:
            print(f"  GUI {line}")
    elif not args.no_gui:
        print("  GUI part: run from a source checkout (scripts/bench_gui_search.py)")
    print(f"  load average after: {os.getloadavg()[0]:.1f}")
    return 0
