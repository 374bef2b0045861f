"""``soundalike bench index``: where indexing's time goes, and what the whole pipeline costs.

Prints, on the same files:
1. the stage table (app/benchmarks/_stages.py): decode, down-mix, resample, BPM + loudness,
   tags, fingerprint, front end, network, database writes, other, in CPU milliseconds per
   second of audio, indexed inline on one thread with the encoder ``soundalike index`` uses
   (the ONNX export on a CPU; ``SOUNDALIKE_RUNTIME=torch`` for torch's figures);
2. ``soundalike index`` as a user runs it (a fresh process: start-up, scan, decoding in
   worker processes, embedding, SQLite writes; on ``--device``, default the CPU): x realtime
   by wall time, and by CPU time of its whole process tree (its decoder workers included);
   then its decoders alone (app/benchmarks/_decoders.py) and index's share of their rate,
   which with a GPU (``--device cuda``) should be 0.9 or more.

``--memory`` then measures peak RSS indexing a 3-minute and a 2-hour file
(app/benchmarks/_memory.py). ``--against bliss`` then races ``soundalike index`` and ``soundalike embed`` against bliss-rs
on the same files, alternating, ``--rounds`` times, by wall and by CPU time
(app/benchmarks/_peer.py).

Files: ``--folder`` (default ``data/real`` when present: Debian game music), limited to
``--max-files``; otherwise synthetic MP3s. Without a model the network is random-init
(speed does not depend on the weights).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

HELP = "indexing cost stage by stage (CPU ms per audio second) and end to end; --against bliss"
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "data" / "real"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--folder", type=Path, help="audio folder (default: data/real if present)")
    parser.add_argument("--max-files", type=int, default=24, help="files used (default 24)")
    parser.add_argument("--model", type=Path, help="model file (default: shipped, else random init)")
    parser.add_argument("--against", choices=("bliss",),
                        help="race index and embed against bliss-rs (pip install -e '.[bench]')")
    parser.add_argument("--rounds", type=int, default=2, help="rounds with --against (default 2)")
    parser.add_argument("--memory", action="store_true",
                        help="also peak RSS of `soundalike index` on a 3-minute and a 2-hour file")
    parser.add_argument("--device", choices=("cpu", "auto", "cuda"), default="cpu",
                        help="where the timed `soundalike index` and `embed` run (default cpu; the "
                             "stage table is always the CPU's)")


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


def _encoder(model: Path):  # noqa: ANN202 - OnnxEncoder | Encoder
    """The encoder ``soundalike index`` would use on this CPU, on one thread."""
    from model.onnx_encoder import load_onnx_encoder

    exported = load_onnx_encoder(model, threads=1, device="cpu", bulk=True)
    if exported is not None:
        network = exported.network
        return exported, f"{'OpenVINO' if network.runtime == 'openvino' else 'ONNX Runtime'} {network.precision}"
    from model.encoder import Encoder

    encoder = Encoder.load(model, device="cpu", threads=1)
    return encoder, f"torch {encoder.precision}"


def run(args: argparse.Namespace) -> int:
    from app.benchmarks import _peer
    from app.benchmarks._model import bench_model
    from app.benchmarks._stages import stage_table
    from model.audio import audio_duration

    if args.against:
        _peer.check_bliss()
    if not _peer.become_subreaper():
        print("   (not Linux: CPU times miss workers that outlive their parent)")
    with tempfile.TemporaryDirectory(prefix="soundalike-bench-index-") as tmp_name:
        tmp = Path(tmp_name)
        folder, note = bench_files(args, tmp)
        paths = sorted(folder.iterdir())
        audio_s = sum(audio_duration(p) for p in paths)
        model, model_note = bench_model(args.model, tmp)
        encoder, runtime = _encoder(model)
        print(f"soundalike bench index: {note}, {audio_s / 60:.1f} min of audio; model {model_note}; "
              f"network on {runtime}; cores {os.cpu_count()}, load {os.getloadavg()[0]:.1f}")
        stage_table(folder, encoder)
        contenders = _peer.runners(folder, paths, model, os.cpu_count() or 2, tmp, args.device)
        cost = contenders["index"]()
        print(f"   soundalike index --device {args.device} (fresh process, decoders in worker processes): "
              f"{audio_s / cost.wall:.0f}x realtime by wall time, {audio_s / cost.cpu:.0f}x per CPU-second "
              f"({1000 * cost.cpu / audio_s:.3f} ms CPU per audio-s, whole process tree)")
        alone = _peer.decoders_alone(paths, args.device)
        print(f"   its decoders alone (same workers and job, no network): {audio_s / alone.wall:.0f}x realtime "
              f"by wall time; index reaches {alone.wall / cost.wall:.2f} of it (target with CUDA: 0.90)")
        if args.memory:
            from app.benchmarks._memory import memory_report

            memory_report(paths[0] if args.folder or DEFAULT_FOLDER.is_dir() else None, model, tmp)
        if args.against:
            print(f"   against bliss-rs, {args.rounds} rounds, bliss with {os.cpu_count() or 2} processes:")
            _peer.versus_bliss(contenders, audio_s, args.rounds)
        print(f"   load now {os.getloadavg()[0]:.1f}")
        sys.stdout.flush()
    return 0
