"""The real-music model's retrieval targets, measured on held-out real recordings.

    .venv/bin/python scripts/bench_real_music.py [--model M] [--split test] [--excerpts 40]

The library is the real-music corpus's ``--split`` (default ``test``: whole Debian packages
never trained on), indexed once per model into W/<model id>.db. Reported:

1. excerpt -> song through ``embed``: a 10-s excerpt's track vector against every library
   track vector (equal weights); how often its song is in the top 10, per condition
   (app.benchmarks._excerpts: clean, re-encoded, noisy, +-1 semitone, +-8 % tempo);
2. excerpt -> song through ``search``: a 15-s excerpt, same conditions; its song first, and
   in the top 10;
3. one slider up, through ``search``: every teacher-tagged track's middle 30 s is a query
   with only the genre (mood, instrument) slider up; P@10 is the share of the top 10 whose
   teacher top tag of that group equals the query's (the stand-in for human labels, which
   the corpus lacks), next to chance (the sum of squared tag shares).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.benchmarks._excerpts import CONDITIONS, degrade  # noqa: E402
from app.core.catalog import Catalog  # noqa: E402
from app.core.indexer import index_folders  # noqa: E402
from app.core.library import Library  # noqa: E402
from app.core.model_registry import resolve_model  # noqa: E402
from app.core.types import SearchWeights  # noqa: E402
from model.audio import load_audio  # noqa: E402
from model.dimensions import DIMENSIONS, normalize_blocks  # noqa: E402
from model.encoder import Encoder  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SLIDER_BLOCKS = (
    "genre",
    "mood",
    "instrument",
)  # the teacher tags these; tempo has beat-tracker BPM
QUERY_SECONDS = 30.0


def split_files(manifest: Path, split: str) -> list[Path]:
    with open(manifest, newline="", encoding="utf-8") as handle:
        return [manifest.parent / r["path"] for r in csv.DictReader(handle) if r["split"] == split]


def build_library(files: list[Path], encoder: Encoder, work: Path) -> Library:
    """The split's files indexed (once per model) into a catalog of their own."""
    links = work / "music"
    for path in files:  # one folder of links, so the catalog holds exactly the split
        link = links / path.parent.name / path.name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.exists():
            link.symlink_to(path.resolve())
    catalog = Catalog.open(work / f"{encoder.model_id}.db")
    for progress in index_folders(catalog, [links], encoder):
        print(f"\r{progress.message}", end="", file=sys.stderr)
    print(file=sys.stderr)
    return Library(catalog, encoder)


def excerpts(library: Library, n: int, seconds: float, seed: int) -> list[tuple[str, np.ndarray]]:
    """``n`` (track path, clean excerpt) pairs from random tracks at random offsets."""
    rng = np.random.default_rng(seed)
    tracks = [t for t in library.catalog.tracks("ok") if t.duration_s > seconds + 3]
    out = []
    for i in rng.choice(len(tracks), size=min(n, len(tracks)), replace=False):
        start = float(rng.uniform(0, tracks[i].duration_s - seconds - 0.5))
        out.append((tracks[i].path, load_audio(tracks[i].path, offset_s=start, duration_s=seconds)))
    return out


def bench_embed(library: Library, args: argparse.Namespace, tmp: Path) -> None:
    table = library.catalog.load_track_vectors(library.encoder.model_id)
    vectors = table.vectors.astype(np.float32)
    cuts = excerpts(library, args.excerpts, 10.0, args.seed)
    rng = np.random.default_rng(args.seed)
    print(
        f"\nexcerpt -> song through embed: {len(cuts)} 10-s excerpts, library of {len(table)} tracks"
    )
    for condition in CONDITIONS:
        top10 = 0
        for path, clip in cuts:
            query = normalize_blocks(
                library.encoder.embed_samples(degrade(clip, condition, rng, tmp)).track[None]
            )[0]
            order = np.argsort(-(vectors @ query))[:10]
            top10 += path in {table.paths[i] for i in order}
        print(f"  {condition:12s} song in top 10 {top10 / len(cuts):5.0%}")


def bench_search(library: Library, args: argparse.Namespace, tmp: Path) -> None:
    cuts = excerpts(library, args.excerpts, 15.0, args.seed + 1)
    rng = np.random.default_rng(args.seed)
    print(f"\nexcerpt -> song through search: {len(cuts)} 15-s excerpts, equal weights")
    for condition in CONDITIONS:
        first = top10 = 0
        for path, clip in cuts:
            results = library.search(
                library.prepare_query(degrade(clip, condition, rng, tmp)), SearchWeights(), k=10
            )
            paths = [r.track.path for r in results]
            first += bool(paths) and paths[0] == path
            top10 += path in paths
        print(f"  {condition:12s} first {first / len(cuts):5.0%}  top 10 {top10 / len(cuts):5.0%}")


def teacher_top_tags(library: Library, teacher: Path, real: Path) -> dict[str, dict[str, int]]:
    """Per slider block: library path -> index of the teacher's top tag of that group."""
    from model.training.distill import track_targets

    out: dict[str, dict[str, int]] = {b: {} for b in SLIDER_BLOCKS}
    for track in library.catalog.tracks("ok"):
        relative = Path(os.path.realpath(track.path)).relative_to(real.resolve())
        cache = teacher / relative.with_suffix(".npz")
        targets = track_targets(cache, 1e9) if cache.is_file() else None
        for block in SLIDER_BLOCKS if targets else ():
            out[block][track.path] = int(np.argmax(targets[block]))
    return out


def bench_sliders(library: Library, args: argparse.Namespace) -> None:
    top = teacher_top_tags(library, args.teacher, args.manifest.parent)
    print(
        f"\none slider up through search: P@10 by the teacher's top tag, {len(top['genre'])} tagged queries"
    )
    for block in SLIDER_BLOCKS:
        labels = top[block]
        shares = np.bincount(list(labels.values())) / len(labels)
        weights = SearchWeights(**{d: float(d == block) for d in DIMENSIONS})
        precision = []
        for path, label in labels.items():
            track = library.catalog.find_track(path)
            start = max(0.0, (track.duration_s - QUERY_SECONDS) / 2)
            query = library.prepare_query(path, start_s=start, end_s=start + QUERY_SECONDS)
            results = [r for r in library.search(query, weights, k=10) if r.track.path in labels]
            if results:
                precision.append(np.mean([labels[r.track.path] == label for r in results]))
        chance = float(np.sum(shares**2))
        p = float(np.mean(precision))
        print(f"  {block:10s} P@10 {p:.2f}  chance {chance:.2f}  ({p / chance:.1f}x chance)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="model file (default: resolve_model's choice)")
    parser.add_argument("--manifest", type=Path, default=ROOT / "data" / "real" / "manifest.csv")
    parser.add_argument("--teacher", type=Path, default=ROOT / "data" / "teacher" / "real")
    parser.add_argument("--split", default="test")
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "bench_real_music"
    )
    parser.add_argument("--excerpts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--skip", default="", help="comma-separated parts to skip: embed,search,sliders"
    )
    args = parser.parse_args()
    model = resolve_model(args.model).path
    args.work.mkdir(parents=True, exist_ok=True)
    encoder = Encoder.load(model, device="cpu", threads=max(1, (os.cpu_count() or 2) - 1))
    print(f"model {model} ({encoder.model_id}), split {args.split!r} of {args.manifest}")
    library = build_library(split_files(args.manifest, args.split), encoder, args.work)
    skip = set(args.skip.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "embed" not in skip:
            bench_embed(library, args, Path(tmp))
        if "search" not in skip:
            bench_search(library, args, Path(tmp))
    if "sliders" not in skip:
        bench_sliders(library, args)
    library.catalog.close()


if __name__ == "__main__":
    main()
