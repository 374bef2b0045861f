"""``soundalike bench index``: end-to-end indexing throughput against the bare encoder's.

Both figures are seconds of audio per wall second (x realtime) on the same files:
- bare encoder: ``Encoder.embed_windows`` on windows decoded beforehand (front end and
  network only: the ceiling indexing can reach);
- indexing: ``index_folders`` into a fresh catalog: scan, decode + tags in worker
  processes, batched embedding, SQLite writes (what ``soundalike index`` does).
The ratio is the share of the encoder's speed that indexing keeps.

``--against bliss`` instead races ``soundalike index`` and ``soundalike embed`` against
bliss-rs on the same files, alternating, ``--rounds`` times (app/benchmarks/_peer.py).

Files: ``--folder`` (default ``data/real`` when present: Debian game music), limited to
``--max-files``; otherwise synthetic MP3s. Without a model the network is random-init
(speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

HELP = "indexing throughput (x realtime) end to end, against the bare encoder's"
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "data" / "real"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", type=Path, help="audio folder (default: data/real if present)")
    parser.add_argument("--max-files", type=int, default=24, help="files used (default 24)")
    parser.add_argument("--model", type=Path, help="model file (default: shipped, else random init)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--workers", type=int, default=None, help="decode processes")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: as `soundalike index`: cores - workers)")
    parser.add_argument("--against", choices=("bliss",),
                        help="race index and embed against bliss-rs (pip install -e '.[bench]')")
    parser.add_argument("--rounds", type=int, default=2, help="rounds with --against (default 2)")


def bench_files(args: argparse.Namespace, tmp: Path) -> tuple[Path, str]:
    from app.core.scanner import scan

    folder = args.folder or (DEFAULT_FOLDER if DEFAULT_FOLDER.is_dir() else None)
    if folder is not None:
        chosen = [Path(f.path) for f in scan([folder])][: args.max_files]
        note = f"{len(chosen)} files from {folder}"
    else:
        import numpy as np
        import soundfile as sf

        chosen = []
        for i in range(min(args.max_files, 8)):
            rng = np.random.default_rng(i)
            t = np.arange(90 * 44100) / 44100
            mix = 0.3 * np.sin(2 * np.pi * (110 + 20 * i) * t) + 0.05 * rng.standard_normal(t.size)
            path = tmp / f"synth{i}.mp3"
            sf.write(str(path), np.stack([mix, mix], 1).astype(np.float32), 44100,
                     format="MP3", subtype="MPEG_LAYER_III")
            chosen.append(path)
        note = f"{len(chosen)} synthetic 90-s MP3 files"
    # index_folders takes folders: link the chosen files into one (keeps the choice exact).
    linked = tmp / "library"
    linked.mkdir()
    for i, path in enumerate(chosen):
        os.symlink(path.resolve(), linked / f"{i:03d}{path.suffix}")
    return linked, note


def _race(args: argparse.Namespace) -> int:
    from app.benchmarks import _peer
    from app.benchmarks._model import bench_model
    from model.audio import audio_duration

    _peer.check_bliss()
    if not _peer.become_subreaper():
        print("   (not Linux: CPU times miss workers that outlive their parent)")
    with tempfile.TemporaryDirectory(prefix="soundalike-bench-race-") as tmp_name:
        tmp = Path(tmp_name)
        folder, note = bench_files(args, tmp)
        paths = sorted(folder.iterdir())
        audio_s = sum(audio_duration(p) for p in paths)
        model, model_note = bench_model(args.model, tmp)
        processes = os.cpu_count() or 2
        print(f"soundalike bench index --against bliss: {note}, {audio_s / 60:.1f} min of audio; "
              f"model {model_note}; bliss with {processes} processes; load {os.getloadavg()[0]:.1f}")
        _peer.versus_bliss(_peer.runners(folder, paths, model, processes, tmp), audio_s, args.rounds)
        print(f"   load now {os.getloadavg()[0]:.1f}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.against:
        return _race(args)
    import numpy as np

    from app.benchmarks._model import bench_model
    from app.core.catalog import Catalog
    from app.core.indexer import IndexSummary, index_folders
    from model.audio import AudioError, load_audio, split_windows
    from model.encoder import Encoder

    with tempfile.TemporaryDirectory(prefix="soundalike-bench-index-") as tmp_name:
        tmp = Path(tmp_name)
        folder, note = bench_files(args, tmp)
        model, model_note = bench_model(args.model, tmp)
        cores = os.cpu_count() or 2
        workers = max(1, cores - 1) if args.workers is None else args.workers
        threads = args.threads or max(1, cores - workers)
        encoder = Encoder.load(model, device=args.device, threads=threads)
        print(f"soundalike bench index: {note}; model {model_note}; device {encoder.device}; "
              f"{workers} decode workers, {threads} torch threads; cores {cores}, "
              f"load {os.getloadavg()[0]:.1f}")

        windows, audio_s = [], 0.0
        for path in sorted(folder.iterdir()):
            try:
                samples = load_audio(path)
            except AudioError:
                continue
            windows.append(split_windows(samples)[0])
            audio_s += samples.size / 22050
        stacked = np.concatenate(windows)
        encoder.embed_windows(stacked[:4])  # warm-up
        window_audio = stacked.shape[0] * stacked.shape[1] / 22050

        def bare_rate() -> float:
            t0 = time.perf_counter()
            encoder.embed_windows(stacked)
            return window_audio / (time.perf_counter() - t0)

        before = bare_rate()
        print(f"   bare encoder: {before:7.1f}x realtime ({stacked.shape[0]} windows, "
              f"{window_audio:.0f} s audio)")

        catalog = Catalog.open(tmp / "bench.db")
        summary = IndexSummary()
        t0 = time.perf_counter()
        for _ in index_folders(catalog, [folder], encoder, workers=workers, summary=summary):
            pass
        index_s = time.perf_counter() - t0
        catalog.close()
        rate = summary.audio_seconds / index_s
        print(f"   indexing:     {rate:7.1f}x realtime ({summary.audio_seconds:.0f} s audio, "
              f"{summary.scanned} files, {len(summary.failed)} failed, in {index_s:.1f} s)")
        after = bare_rate()  # again: the load of a shared machine drifts; bracket the run
        bare = (before + after) / 2
        print(f"   bare encoder again: {after:7.1f}x realtime")
        print(f"   indexing / bare encoder (mean of both): {rate / bare:.0%} "
              f"(load now {os.getloadavg()[0]:.1f})")
        if threads != cores and encoder.device.type == "cpu":
            import torch

            torch.set_num_threads(cores)
            best = max(bare, bare_rate())
            print(f"   bare encoder with all {cores} cores: {best:7.1f}x realtime; "
                  f"indexing / best bare encoder: {rate / best:.0%}")
    return 0
