"""``soundalike evaluate --data LABELS.csv``: held-out triplet accuracy, paper Table 1/2 layout.

Held-out tracks are the CSV's ``test`` split (else ``val``, else every row; ``--all-rows``
for a set that is held out as a whole, such as the unseen-soundfont corpus). Rows: each
``--model`` (default: the shipped model), and with ``--baselines`` the MFCC-VQ baseline and
an untrained network of the same shape. The MFCC-VQ dictionary is learned from the CSV's
``train`` split (or ``--dictionary-data``), else from the evaluated tracks themselves.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from app.cli import CliError

HELP = "triplet accuracy per dimension and for track triplets on held-out labelled audio"
MAX_DICTIONARY_TRACKS = 150


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, metavar="LABELS.csv", help="labels file (path,genre,mood,instrument,bpm[,split])")
    parser.add_argument("--model", action="append", default=[], metavar="M", help="model file (repeatable)")
    parser.add_argument("--baselines", action="store_true", help="add MFCC-VQ and untrained-network rows")
    parser.add_argument("--triplets", type=int, default=1000, metavar="N", help="triplets per dimension (default 1000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dictionary-data", metavar="CSV", help="tracks for the MFCC-VQ dictionary (default: the train split)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--all-rows", action="store_true", help="evaluate every row, ignoring the split column")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")


def run(args: argparse.Namespace) -> int:
    from app.core.model_registry import ModelChoiceError, resolve_model
    from model.audio import AudioError
    from model.checkpoint import ModelFileError, load_model, new_untrained_model
    from model.device import resolve_device
    from model.evaluate import NetworkEmbedder, VQEmbedder, evaluate, held_out, plan_triplets
    from model.labels import read_labels_csv

    try:
        labels = read_labels_csv(args.data)
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {args.data}: {exc}") from None
    models = [Path(m) for m in args.model]
    if not models:
        try:
            entry = resolve_model()  # $SOUNDALIKE_MODEL, else the shipped default
        except ModelChoiceError as exc:
            raise CliError(str(exc)) from None
        models = [entry.path] if entry is not None else []
    if not models and not args.baselines:
        raise CliError("no model to evaluate: pass --model M or --baselines")
    device = resolve_device(args.device)
    embedders, dims = [], None
    for path in models:
        try:
            network, info = load_model(path, map_location=device)
        except ModelFileError as exc:
            raise CliError(str(exc)) from None
        dims = dims or info.dims
        embedders.append(NetworkEmbedder(path.name, network, device))
    if args.all_rows:
        tracks, note = list(labels), f"held-out tracks: all {len(labels)} rows (--all-rows)"
    else:
        tracks, note = held_out(labels)
    plan = plan_triplets(tracks, args.triplets, args.seed)
    plan.notes.insert(0, note)
    if args.baselines:
        embedders.append(NetworkEmbedder("untrained network", new_untrained_model(args.seed, dims), device))
        source = read_labels_csv(args.dictionary_data) if args.dictionary_data else [t for t in labels if t.split == "train"]
        if not source:
            source = plan.tracks
            plan.notes.append("MFCC-VQ dictionary learned on the evaluated tracks themselves (unsupervised)")
        from model.baselines import fit_vq_on_files

        print(f"evaluate: learning the MFCC-VQ dictionary from up to {MAX_DICTIONARY_TRACKS} tracks", file=sys.stderr)
        baseline, skipped = fit_vq_on_files([t.path for t in source], args.seed, MAX_DICTIONARY_TRACKS)
        for reason in skipped:
            print(f"evaluate: skipped for the dictionary: {reason}", file=sys.stderr)
        if baseline.note:
            plan.notes.append(baseline.note)
        embedders.insert(0, VQEmbedder(baseline))
    job = evaluate(plan, embedders)
    try:
        while True:
            done, total, name = next(job)
            if sys.stderr.isatty():
                print(f"\r\033[Kembedding {done}/{total} {name}", end="", file=sys.stderr, flush=True)
    except StopIteration as finished:
        report = finished.value
    except AudioError as exc:
        raise CliError(str(exc)) from None
    if sys.stderr.isatty():
        print("\r\033[K", end="", file=sys.stderr)
    print(json.dumps(report.to_json(), indent=2) if args.json else report.format_table())
    return 0
