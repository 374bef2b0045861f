"""How precisely ``search`` places an excerpt in its source track, and whether length biases rank.

    .venv/bin/python scripts/bench_offsets.py --music DIR [--work W] [--excerpts 40] [--seconds 15]
        [--conditions clean "+4% tempo" ...]

Offsets: the library is DIR's audio (indexed once into W/offsets.db with the shipped model).
Random excerpts of random tracks are cut in four conditions (``--conditions`` picks others,
such as a PAL speed-up's "+4% tempo"): clean, re-encoded (44.1 kHz Ogg Vorbis at low quality),
noisy (white noise at 10 dB SNR) and +1 semitone (librosa's pitch shift). Each is searched
with equal weights; reported per condition: how often the source track is first, how often
its offset is within 1 s and 3 s of the cut (misses count as wrong), the median and
90th-percentile error, for the placed offset (what search reports: window alignment, then
the top result placed by its audio, or a lower one the audio confirms promoted and placed,
app.core.refine), for the window alignment alone (``aligned``) and for the window-grid offset
(``grid``); the median time of a search (an embedded query; ``placed`` includes decoding
audio) next to the median time of embedding the query, the searches' CPU time (median and
95th percentile: fairer on a loaded machine), and the time of a search that leaves the
source out (the top result is then another recording: every candidate offset is tried, and
the lower results are checked).

Length bias (``--lengths``): DIR's tracks are cut into pieces of 15-20 s or 60 s (into
W/lengths/), indexed, and every short piece is a query with the genre slider alone; the
share of short pieces among each query's top 10 (other tracks' pieces only) is reported for
segment-only, track-only and the blended score (with and without app.core.chance's
correction), next to their share of the library.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.benchmarks._excerpts import degrade  # noqa: E402
from app.core.catalog import Catalog  # noqa: E402
from app.core.indexer import index_folders  # noqa: E402
from app.core.library import Library  # noqa: E402
from app.core.model_registry import resolve_model  # noqa: E402
from app.core.scanner import AUDIO_EXTENSIONS  # noqa: E402
from app.core.search import TRACK_WEIGHT  # noqa: E402
from app.core.types import SearchFilters, SearchWeights  # noqa: E402
from model.audio import SAMPLE_RATE, load_audio  # noqa: E402
from model.encoder import Encoder  # noqa: E402

CONDITIONS = ("clean", "re-encoded", "noisy", "+1 semitone")  # the offset targets


def _index(catalog: Catalog, folder: Path, encoder: Encoder) -> None:
    for progress in index_folders(catalog, [folder], encoder):
        print(f"\r{progress.message}", end="", file=sys.stderr)
    print(file=sys.stderr)


def _summary(errors: list[float]) -> str:
    e = np.array(errors)
    return (f"±1 s {np.mean(e <= 1):4.0%}  ±3 s {np.mean(e <= 3):4.0%}  "
            f"median {np.median(e):5.2f} s  p90 {np.percentile(e, 90):6.2f} s")


REPEAT_CORRELATION = 0.95  # waveform correlation of an exact repeat (a looped game track's: 0.99)


def same_audio(a: np.ndarray, b: np.ndarray, slack: int) -> float:
    """Highest waveform correlation of ``a`` with ``b[lag : lag + len(a)]`` over the lags
    ``0 .. 2 * slack`` (``b`` is ``a``'s length plus ``2 * slack`` samples): 1.0 where ``b``
    holds ``a`` itself."""
    n = a.size
    if b.size < n or n == 0:
        return 0.0
    size = 1 << int(np.ceil(np.log2(a.size + b.size)))
    dots = np.fft.irfft(np.fft.rfft(b, size) * np.conj(np.fft.rfft(a, size)), size)[: min(b.size - n, 2 * slack) + 1]
    energy = np.concatenate([[0.0], np.cumsum(b.astype(np.float64) ** 2)])
    window = (energy[n:] - energy[:-n])[: dots.size]
    return float(np.max(dots / np.sqrt(np.maximum(window * float(a @ a), 1e-12))))


def _is_repeat(path: str, start: float, offset: float, seconds: float) -> bool:
    """Whether the clean audio at ``offset`` (within 0.1 s) is the cut's own audio again: a
    loop's repeat, where an offset is as right as the cut's (the issue's ±3 s target says
    where the music is; a repeat is the same music)."""
    slack = int(0.1 * SAMPLE_RATE)
    a = load_audio(path, offset_s=start, duration_s=seconds)
    b = load_audio(path, offset_s=max(0.0, offset - 0.1), duration_s=seconds + 0.2)
    return same_audio(a, b, slack) >= REPEAT_CORRELATION


def bench_offsets(library: Library, args: argparse.Namespace, tmp: Path) -> None:
    rng = np.random.default_rng(args.seed)
    tracks = [t for t in library.catalog.tracks("ok") if t.duration_s > args.seconds + 3]
    cuts = []
    for _ in range(args.excerpts):
        track = tracks[int(rng.integers(len(tracks)))]
        cuts.append((track, float(rng.uniform(0, track.duration_s - args.seconds - 0.5))))
    print(f"{len(cuts)} excerpts of {args.seconds:g} s from {len(tracks)} tracks")
    for condition in args.conditions:
        first, embed_seconds = 0, []
        seconds: dict[str, list[float]] = {"placed": [], "aligned": [], "grid": []}
        cpu: dict[str, list[float]] = {"placed": [], "aligned": []}  # CPU time: fairer on a loaded machine
        errors: dict[str, list[float]] = {"placed": [], "aligned": [], "grid": []}
        repeats = 0  # placed more than 3 s off, at an exact repeat of the cut's audio
        for track, start in cuts:
            clip = load_audio(track.path, offset_s=start, duration_s=args.seconds)
            clip = degrade(clip, condition, rng, tmp)
            began = time.perf_counter()
            query = library.prepare_query(clip)
            embed_seconds.append(time.perf_counter() - began)
            variants = (query, replace(query, pattern=None), replace(query, phases=(), pattern=None))
            for q, name in zip(variants, errors, strict=True):
                began, began_cpu = time.perf_counter(), time.process_time()
                results = library.search(q, SearchWeights(), k=10)
                seconds[name].append(time.perf_counter() - began)
                cpu.setdefault(name, []).append(time.process_time() - began_cpu)
                first += q is query and results[0].track.path == track.path
                hit = next((r for r in results if r.track.path == track.path), None)
                errors[name].append(abs(hit.offset_s - start) if hit else np.inf)
                if q is query and hit and errors[name][-1] > 3:
                    repeats += _is_repeat(track.path, start, hit.offset_s, args.seconds)
            for q, name in zip(variants[:2], ("placed, source left out", "aligned, source left out"), strict=True):
                began, began_cpu = time.perf_counter(), time.process_time()  # the top result is another recording
                library.search(q, SearchWeights(), k=10, filters=SearchFilters(exclude_paths=frozenset({track.path})))
                seconds.setdefault(name, []).append(time.perf_counter() - began)
                cpu.setdefault(name, []).append(time.process_time() - began_cpu)
        print(f"{condition:12s} source first {first / len(cuts):4.0%}"
              f"  (embedding the query: p50 {np.median(embed_seconds) * 1e3:4.0f} ms)")
        for name, errs in errors.items():
            print(f"    {name:8s} {_summary(errs)}  search p50 {np.median(seconds[name]) * 1e3:4.0f} ms")
        print(f"    placed more than 3 s off at an exact repeat of the cut (waveform correlation >= "
              f"{REPEAT_CORRELATION}): {repeats}; ±3 s or such a repeat "
              f"{np.mean(np.array(errors['placed']) <= 3) + repeats / len(cuts):4.0%}")
        print("    search CPU p50/p95: " + ", ".join(
            f"{name} {np.median(v) * 1e3:.0f}/{np.percentile(v, 95) * 1e3:.0f} ms" for name, v in cpu.items()))
        print("    search p50 with the source left out: " + ", ".join(
            f"{name.split(',')[0]} {np.median(seconds[name]) * 1e3:.0f} ms" for name in list(seconds)[3:]))


def _cut_pieces(folder: Path, out: Path, rng: np.random.Generator) -> dict[str, str]:
    """Pieces of 15-20 s or 60 s from each track; returns piece path -> source track."""
    source_of: dict[str, str] = {}
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS):
        samples = load_audio(path)
        at, n = 0, 0
        while True:
            seconds = 60.0 if rng.random() < 0.5 else float(rng.uniform(15, 20))
            piece = samples[at : at + int(seconds * SAMPLE_RATE)]
            if piece.size < int(seconds * SAMPLE_RATE):
                break
            target = out / f"{path.stem}_{n:02d}_{int(seconds)}s.wav"
            if not target.exists():
                sf.write(target, piece, SAMPLE_RATE, subtype="PCM_16")
            source_of[str(target)] = path.stem
            at += piece.size
            n += 1
    return source_of


def bench_lengths(encoder: Encoder, args: argparse.Namespace) -> None:
    rng = np.random.default_rng(args.seed)
    source_of = _cut_pieces(args.music, args.work / "lengths", rng)
    catalog = Catalog.open(args.work / "lengths.db")
    _index(catalog, args.work / "lengths", encoder)
    library = Library(catalog, encoder)
    tracks = {t.path: t for t in catalog.tracks("ok")}
    short = {p for p, t in tracks.items() if t.duration_s < 30}
    print(f"library: {len(tracks)} pieces, {len(short) / len(tracks):.0%} short (15-20 s)")
    genre = SearchWeights(1, 0, 0, 0)
    runs = (("segment only", 0.0, True), ("track only", 1.0, True), ("blend", TRACK_WEIGHT, True),
            ("blend, no chance correction", TRACK_WEIGHT, False))
    for label, weight, corrected in runs:
        library.engine.track_weight, library.engine.chance_correction = weight, corrected
        shares = []
        for path in sorted(short):
            query = library.prepare_query(path)
            results = library.search(query, genre, k=40)
            others = [r for r in results if source_of[r.track.path] != source_of[path]][:10]
            shares.append(np.mean([r.track.path in short for r in others]))
        print(f"{label:28s} (track weight {weight:.2f}): "
              f"short pieces in a short query's top 10: {np.mean(shares):.0%}")
    catalog.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--music", type=Path, required=True, help="folder of library audio")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_offsets")
    parser.add_argument("--excerpts", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", type=Path, help="model file (default: resolve_model's choice)")
    parser.add_argument("--lengths", action="store_true", help="also measure the length bias")
    parser.add_argument("--conditions", nargs="+", default=CONDITIONS,
                        help='degradations (app.benchmarks._excerpts), e.g. "+4%% tempo"')
    args = parser.parse_args()
    args.model = resolve_model(args.model).path  # the shipped default unless told otherwise
    args.work.mkdir(parents=True, exist_ok=True)
    encoder = Encoder.load(args.model, device="cpu", threads=max(1, (os.cpu_count() or 2) - 1))
    catalog = Catalog.open(args.work / "offsets.db")
    _index(catalog, args.music, encoder)
    with tempfile.TemporaryDirectory() as tmp:
        bench_offsets(Library(catalog, encoder), args, Path(tmp))
    catalog.close()
    if args.lengths:
        bench_lengths(encoder, args)


if __name__ == "__main__":
    main()
