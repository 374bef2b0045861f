"""``soundalike bench encode``: how fast audio becomes vectors, stage by stage and end to end.

Prints, as seconds of audio per wall second (x realtime):

- decode: file -> 22 050 Hz mono (libsndfile + soxr), one thread; then with 44.1 kHz files
  kept at their rate (the encoder's path on a GPU), and the resampling this saves;
- front end: waveforms -> log-mel (torch, the encoder's threads), at 22.05 and 44.1 kHz;
- network: log-mel -> vectors, at the encoder's precision and in float32 for comparison;
- end to end: ``Encoder.embed_files`` (decoding overlapped with the network);
- catalog writes: the SQLite transactions indexing makes for these files' vectors.

With no ``--files`` it synthesises a few OGG and MP3 files (chords, clicks, noise) into a
temporary folder, so the benchmark runs anywhere; figures for reports should come from real
music (e.g. ``apt-get install wesnoth-1.16-music``, converted to MP3 with ffmpeg). Without a
model file the network is randomly initialised: speed does not depend on the weights.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

HELP = "encoder throughput: decode, front end, network, end to end (x realtime)"
WARMUP_WINDOWS = 4


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--files", nargs="+", type=Path, metavar="FILE", help="audio files")
    parser.add_argument(
        "--seconds", type=float, default=120.0, metavar="N",
        help="length of each synthesised file when no --files are given (default 120)",
    )  # fmt: skip
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--model", type=Path, metavar="PATH", help="model file (default: shipped)")
    parser.add_argument(
        "--threads", type=int, default=None,
        help="torch threads for the stage figures (default: all cores)",
    )  # fmt: skip


def _synthesise(folder: Path, seconds: float) -> list[Path]:
    """Two OGG and two MP3 files of chord progressions with clicks and a little noise."""
    import numpy as np
    import soundfile as sf

    sr = 44100
    paths = []
    for i, suffix in enumerate([".ogg", ".mp3", ".ogg", ".mp3"]):
        rng = np.random.default_rng(i)
        t = np.arange(int(seconds * sr)) / sr
        root = 110.0 * 2 ** (rng.integers(0, 12, size=int(seconds // 2) + 1) / 12)
        f0 = root[(t // 2).astype(int)]
        mix = sum(np.sin(2 * np.pi * f0 * r * t) for r in (1.0, 1.26, 1.5)) / 4
        mix += 0.3 * np.sin(2 * np.pi * 1000 * t) * np.exp(-(t % 0.5) / 0.005)
        mix += 0.02 * rng.standard_normal(t.size)
        stereo = np.stack([mix, mix[::-1]], axis=1).astype(np.float32)
        path = folder / f"synth{i}{suffix}"
        fmt = ("MP3", "MPEG_LAYER_III") if suffix == ".mp3" else ("OGG", "VORBIS")
        sf.write(str(path), stereo, sr, format=fmt[0], subtype=fmt[1])
        paths.append(path)
    return paths


class _Clock:
    """Wall and process CPU time of a block: on a shared machine the CPU figure (x realtime
    per core-second used) still says what the code costs when the wall figure cannot."""

    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def _rate(audio_s: float, clock: _Clock) -> str:
    wall, cpu = max(clock.wall, 1e-9), max(clock.cpu, 1e-9)
    return (
        f"{audio_s / wall:6.0f}x realtime  ({audio_s:.0f} s audio in {wall:.2f} s; "
        f"{cpu / wall:.2f} cores busy, {audio_s / cpu:.0f}x per CPU-second)"
    )


def bound_by(stage_rates: dict[str, float], decode_workers: int) -> str:
    """Which stage limits the pipeline, from the stage rates (x realtime).

    Decoding runs in ``decode_workers`` parallel workers; front end and network run one
    after the other on the encoder's device (GPU or CPU threads), so their costs add. The
    slower side bounds the pipeline; on the device side, the costlier of the two is named.
    """
    decode = stage_rates["decode"] * decode_workers
    front, network = stage_rates["front end"], stage_rates["network"]
    device_rate = 1.0 / (1.0 / front + 1.0 / network)
    slowest = "decode" if decode < device_rate else ("front end" if front < network else "network")
    return (f"bound by: {slowest} (decode {decode:.0f}x with {decode_workers} workers; "
            f"front end + network {device_rate:.0f}x: front end {front:.0f}x, network {network:.0f}x)")


def _catalog_rate(scratch: Path, n_windows: int, audio_s: float) -> str:
    """Write random vectors for ``n_windows`` windows as 3-minute tracks, 32 per transaction."""
    import numpy as np

    from app.core.catalog import Catalog, TrackRecord
    from model.dimensions import normalize_blocks

    rng = np.random.default_rng(0)
    per_track = 60  # windows in a 3-minute track
    records = [
        TrackRecord(str(scratch / f"t{i}.ogg"), 1, i, per_track * 2.97, {}, "bench",
                    track=normalize_blocks(rng.standard_normal(256).astype(np.float32)),
                    windows=normalize_blocks(rng.standard_normal((per_track, 256)).astype(np.float32)))
        for i in range(max(1, n_windows // per_track))
    ]  # fmt: skip
    with Catalog.open(scratch / "bench-writes.db") as catalog, _Clock() as clock:
        for i in range(0, len(records), 32):
            catalog.write_batch(records[i : i + 32])
    return _rate(len(records) * per_track * 2.97, clock)


def _load_encoder(args: argparse.Namespace, threads: int, scratch: Path):  # -> (Encoder, str)
    from app.benchmarks._model import bench_model
    from model.encoder import Encoder

    path, note = bench_model(args.model, scratch)
    return Encoder.load(path, device=args.device, threads=threads), note


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import torch

    from model.audio import (
        SAMPLE_RATE,
        WINDOW_SECONDS,
        audio_duration,
        load_audio,
        split_windows,
        stream_windows,
        windows_rate,
    )
    from model.encoder import available_cores, pipeline_threads
    from model.network import count_flops, parameter_count

    threads = args.threads or available_cores()
    with tempfile.TemporaryDirectory(prefix="soundalike-bench-") as tmp:
        files = args.files or _synthesise(Path(tmp), args.seconds)
        encoder, model_note = _load_encoder(args, threads, Path(tmp))
        print(f"model: {model_note}")
        print(f"device: {encoder.device}  precision: {encoder.precision}  cores: "
              f"{available_cores()}  load average: {os.getloadavg()[0]:.2f}  "
              f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '-')}")  # fmt: skip
        network = encoder.network
        print(f"network: {parameter_count(network) / 1e6:.2f} M parameters, "
              f"{count_flops(network) / 1e9:.3f} GFLOPs per window")  # fmt: skip
        total_s = sum(audio_duration(f) for f in files)
        print(f"files: {len(files)} ({', '.join(sorted({Path(f).suffix for f in files}))}), "
              f"{total_s:.0f} s of audio")  # fmt: skip

        with _Clock() as clock:
            windows = np.concatenate([split_windows(load_audio(f))[0] for f in files])
        print(f"decode to 22.05 kHz (1 thread): {_rate(total_s, clock)}")
        resampled_cpu = clock.cpu
        with _Clock() as clock:
            native = [b.samples for f in files for b in stream_windows(f, 64, native=True)]
        print(f"decode at native rates (1 thread): {_rate(total_s, clock)}")
        print(f"   resampling saved: {max(0.0, resampled_cpu - clock.cpu):.2f} CPU-s of "
              f"{resampled_cpu:.2f} ({max(0.0, 1 - clock.cpu / max(resampled_cpu, 1e-9)):.0%})")
        stage_rates = {"decode": total_s / max(clock.wall, 1e-9)}  # x realtime; decode per worker

        torch.set_num_threads(threads)
        windows = windows[: max(WARMUP_WINDOWS, min(len(windows), 256))]
        audio_s = len(windows) * WINDOW_SECONDS
        batch = encoder.batch_windows
        x = torch.from_numpy(windows).to(encoder.device)
        with torch.inference_mode():
            encoder.frontend(x[:WARMUP_WINDOWS])
            _sync(encoder.device)
            with _Clock() as clock:
                mels = [encoder.frontend(x[i : i + batch]) for i in range(0, len(x), batch)]
                _sync(encoder.device)
        print(f"front end    ({threads} threads): {_rate(audio_s, clock)}")
        stage_rates["front end"] = audio_s / max(clock.wall, 1e-9)
        wide = [w for w in native if windows_rate(w) != SAMPLE_RATE]
        if wide:
            x44 = torch.from_numpy(np.concatenate(wide)[: len(windows)]).to(encoder.device)
            with torch.inference_mode(), _Clock() as clock:
                for i in range(0, len(x44), batch):
                    encoder.frontend(x44[i : i + batch], windows_rate(wide[0]))
                _sync(encoder.device)
            print(f"front end 44.1 kHz ({threads} threads): {_rate(len(x44) * WINDOW_SECONDS, clock)}")

        mels = [m.contiguous(memory_format=torch.channels_last) for m in mels]
        for label, dtype in ((encoder.precision, encoder.dtype), ("fp32", torch.float32)):
            saved, encoder.dtype = encoder.dtype, dtype
            with torch.inference_mode(), encoder._autocast():
                network(mels[0][:WARMUP_WINDOWS])
                _sync(encoder.device)
                with _Clock() as clock:
                    for mel in mels:
                        network(mel)
                    _sync(encoder.device)
            encoder.dtype = saved
            print(f"network {label:4} ({threads} threads): {_rate(audio_s, clock)}")
            stage_rates.setdefault("network", audio_s / max(clock.wall, 1e-9))
            if label == "fp32":
                break

        torch_threads, workers = pipeline_threads(available_cores())
        with _Clock() as clock:
            failures = [p for p, r in encoder.embed_files([str(f) for f in files])
                        if isinstance(r, Exception)]  # fmt: skip
        print(f"end to end   ({torch_threads} torch + {workers} decode threads): "
              f"{_rate(total_s, clock)}")  # fmt: skip
        if failures:
            print(f"failed to decode: {', '.join(failures)}")
        print(bound_by(stage_rates, workers if encoder.device.type == "cpu" else max(1, available_cores() - 1)))
        print(f"catalog writes: {_catalog_rate(Path(tmp), len(windows), audio_s)}")
        print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0
