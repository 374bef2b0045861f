"""Fit the auto-tag head (``model.tags``) on a trained encoder and the teacher's tags.

    python -m model.training.tag_head --model resources/models/default.pt \\
        --corpus data/real/manifest.csv=data/teacher/real \\
        --corpus data/corpus/labels.csv=data/teacher/corpus [-o OUT.pt | --install]

1. Every file of each manifest that the teacher has tagged is embedded once with the
   model (window vectors cached under ``data/embeddings/<model id>/``; resumable).
2. Training examples are spans of a track's windows (random start and length, so that the
   head sees what it will see at index time: the block-normalised mean of many windows),
   with the mean teacher target (``tag_vocabulary.targets``) of the 3-s teacher segments
   under them; silent segments are dropped (``teacher_cache.load_tags``: the taggers answer
   silence with guesses).
3. A 256 -> 128 -> n_tags perceptron learns the soft targets (binary cross-entropy).
4. Thresholds: per tag, the one that maximises F1 against the teacher's yes/no labels
   (``tag_vocabulary.truth``) on the ``val`` tracks of real music; precision and recall
   are then reported on the ``test`` tracks of real music, which nothing was fitted on.
5. The head, its thresholds and the report are written into a copy of the model file.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.atomic import write_text_atomic
from model.audio import WINDOW_SECONDS
from model.checkpoint import load_model, save_model
from model.dimensions import normalize_blocks
from model.tags import KEY, TagModel
from model.training import tag_vocabulary as vocab
from model.training.teacher_cache import load_tags

ROOT = Path(__file__).resolve().parents[2]
HIDDEN = 128
SPANS_PER_TRACK = 8  # per epoch


@dataclass
class TaggedTrack:
    path: Path
    split: str
    real: bool
    windows: np.ndarray  # (n, 256) float32
    targets: np.ndarray  # (n, n_tags): the teacher target under each window (NaN: silent)

    def span_target(self, start: int, stop: int) -> np.ndarray | None:
        t = self.targets[start:stop]
        t = t[~np.isnan(t[:, 0])]
        return t.mean(axis=0) if len(t) else None

    def span_vector(self, start: int, stop: int) -> np.ndarray:
        return normalize_blocks(self.windows[start:stop].mean(axis=0))


def window_targets(cache: Path, n_windows: int) -> np.ndarray:
    """Teacher targets aligned to the encoder's windows: the non-silent teacher segment whose
    start is nearest each window's, or a NaN row when none starts within half a window."""
    tags = load_tags(cache)
    target = vocab.targets(tags["msd"], tags["mtt"])
    out = np.full((n_windows, len(vocab.NAMES)), np.nan, np.float32)
    if not len(target):
        return out
    starts = np.arange(n_windows) * WINDOW_SECONDS
    nearest = np.abs(starts[:, None] - tags["start_s"][None, :]).argmin(axis=1)
    close = np.abs(tags["start_s"][nearest] - starts) <= WINDOW_SECONDS / 2
    out[close] = target[nearest[close]]
    return out


def load_tracks(model: Path, corpora: list[tuple[Path, Path]], embeddings: Path, log=sys.stderr) -> list[TaggedTrack]:
    """Embed (or read the cached embeddings of) every tagged file of every manifest."""
    from model.encoder import Encoder

    encoder = None
    tracks: list[TaggedTrack] = []
    for manifest, teacher_dir in corpora:
        with open(manifest, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
        real = "source" in (rows[0] if rows else {})  # the real-music manifest names its package
        for row in rows:
            audio, cache = manifest.parent / row["path"], teacher_dir / Path(row["path"]).with_suffix(".npz")
            if not (audio.is_file() and cache.is_file()):
                continue
            stored = embeddings / (hashlib.sha1(str(audio.resolve()).encode()).hexdigest() + ".npy")
            if stored.exists():
                windows = np.load(stored).astype(np.float32)
            else:
                encoder = encoder or Encoder.load(model)
                windows = encoder.embed_file(audio).windows
                stored.parent.mkdir(parents=True, exist_ok=True)
                np.save(stored, windows.astype(np.float16))
            tracks.append(TaggedTrack(audio, row.get("split", "train"), real, windows,
                                      window_targets(cache, len(windows))))
            if len(tracks) % 200 == 0:
                print(f"tag_head: {len(tracks)} tracks embedded", file=log, flush=True)
    return tracks


def examples(tracks: list[TaggedTrack], rng: np.random.Generator, spans: int) -> tuple[np.ndarray, np.ndarray]:
    """Random spans (and each whole track) -> (vectors, targets)."""
    xs, ys = [], []
    for track in tracks:
        n = len(track.windows)
        bounds = [(0, n)] + [(s, s + int(rng.integers(1, n - s + 1))) for s in rng.integers(0, n, spans)]
        for start, stop in bounds:
            target = track.span_target(start, stop)
            if target is not None:
                xs.append(track.span_vector(start, stop))
                ys.append(target)
    return np.asarray(xs, np.float32), np.asarray(ys, np.float32)


def track_level(tracks: list[TaggedTrack]) -> tuple[np.ndarray, np.ndarray]:
    """Whole-track vectors and targets (what indexing computes)."""
    pairs = [(t.span_vector(0, len(t.windows)), t.span_target(0, len(t.windows))) for t in tracks]
    pairs = [(x, y) for x, y in pairs if y is not None]
    return np.asarray([x for x, _ in pairs], np.float32), np.asarray([y for _, y in pairs], np.float32)


def fit_head(tracks: list[TaggedTrack], epochs: int = 40, seed: int = 0) -> TagModel:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_tags = len(vocab.NAMES)
    net = torch.nn.Sequential(torch.nn.Linear(256, HIDDEN), torch.nn.ReLU(), torch.nn.Linear(HIDDEN, n_tags))
    optimizer = torch.optim.Adam(net.parameters(), lr=3e-3, weight_decay=1e-5)
    for _ in range(epochs):
        x, y = (torch.from_numpy(a) for a in examples(tracks, rng, SPANS_PER_TRACK))
        order = torch.from_numpy(rng.permutation(len(x)))
        for batch in order.split(256):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    w1, b1, w2, b2 = (p.detach().numpy().copy() for p in net.parameters())
    return TagModel(vocab.NAMES, vocab.GROUPS, np.full(n_tags, np.inf, np.float32), w1, b1, w2, b2)


MIN_SUPPORT = 3  # held-out positives a threshold needs; fewer: the tag stays uncalibrated (never shown)


def best_thresholds(probabilities: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per tag, the threshold with the best F1 on these tracks; infinite (never on) for a tag
    with fewer than ``MIN_SUPPORT`` positives here, whose threshold would be a guess."""
    out = np.full(labels.shape[1], np.inf, np.float32)
    for k in range(labels.shape[1]):
        if labels[:, k].sum() < MIN_SUPPORT:
            continue
        candidates = np.unique(probabilities[:, k])
        f1 = [_f1(probabilities[:, k] >= c, labels[:, k]) for c in candidates]
        out[k] = candidates[int(np.argmax(f1))]
    return out


def _f1(predicted: np.ndarray, actual: np.ndarray) -> float:
    tp = float(np.sum(predicted & actual))
    return 2 * tp / max(float(predicted.sum() + actual.sum()), 1e-9)


def precision_recall(model: TagModel, tracks: list[TaggedTrack]) -> dict[str, dict[str, float]]:
    """Per tag: precision, recall and support against the teacher's labels."""
    x, y = track_level(tracks)
    if not len(x):
        return {}
    predicted = model.predict(x) >= model.thresholds
    actual = vocab.truth(y)
    report = {}
    for k, name in enumerate(model.names):
        tp = int(np.sum(predicted[:, k] & actual[:, k]))
        report[name] = {"precision": tp / max(int(predicted[:, k].sum()), 1),
                        "recall": tp / max(int(actual[:, k].sum()), 1),
                        "support": int(actual[:, k].sum()), "predicted": int(predicted[:, k].sum()),
                        "calibrated": bool(np.isfinite(model.thresholds[k]))}
    tp = int(np.sum(predicted & actual))
    report["all tags (micro)"] = {"precision": tp / max(int(predicted.sum()), 1),
                                  "recall": tp / max(int(actual.sum()), 1),
                                  "support": int(actual.sum()), "predicted": int(predicted.sum()),
                                  "calibrated": True}
    return report


def format_report(report: dict[str, dict[str, float]]) -> str:
    lines = [f"{'tag':<20} {'group':<10} {'precision':>9} {'recall':>7} {'support':>7}"]
    groups = dict(zip(vocab.NAMES, vocab.GROUPS, strict=True))
    for name, r in report.items():
        if not r["calibrated"]:
            lines.append(f"{name:<20} {groups.get(name, ''):<10} {'not calibrated: too few held-out examples':>33}")
            continue
        lines.append(f"{name:<20} {groups.get(name, ''):<10} {r['precision']:9.2f} {r['recall']:7.2f} {r['support']:7d}")
    return "\n".join(lines)


def train_and_write(model: Path, corpora: list[tuple[Path, Path]], output: Path, log=sys.stderr) -> dict:
    network, info = load_model(model)
    tracks = load_tracks(model, corpora, ROOT / "data" / "embeddings" / info.model_id, log)
    train = [t for t in tracks if t.split == "train"]
    val = [t for t in tracks if t.real and t.split == "val"]
    test = [t for t in tracks if t.real and t.split == "test"]
    if not train or not val:
        raise SystemExit(f"tag_head: need tagged train and real val tracks, have {len(train)} and {len(val)}")
    started = time.time()
    head = fit_head(train)
    x_val, y_val = track_level(val)
    thresholds = best_thresholds(head.predict(x_val), vocab.truth(y_val))
    head = TagModel(head.names, head.groups, thresholds, head.w1, head.b1, head.w2, head.b2)
    report = {"train_tracks": len(train), "val_real_tracks": len(val), "test_real_tracks": len(test),
              "fit_seconds": round(time.time() - started, 1), "precision_recall_test": precision_recall(head, test),
              "truth": f"teacher top tags per group {vocab.TOP_PER_GROUP}, target >= {vocab.MIN_TRUTH}"}
    print(format_report(report["precision_recall_test"]), file=log)
    card = {**info.card, "auto_tags": report}
    save_model(output, network, info.dims, card, extra={KEY: head.to_payload()})
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.training.tag_head", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, default=ROOT / "resources" / "models" / "default.pt")
    parser.add_argument("--corpus", action="append", required=True, metavar="MANIFEST=TEACHER_DIR",
                        help="a manifest CSV and the folder of its teacher tags (repeatable)")
    parser.add_argument("-o", "--output", type=Path, help="model file to write (default: data/tag-head/<name>)")
    parser.add_argument("--install", action="store_true", help="overwrite --model with the tagged copy")
    args = parser.parse_args(argv)
    corpora = [(Path(m), Path(t)) for m, _, t in (c.partition("=") for c in args.corpus)]
    if args.install:
        install(args.model, corpora)
        return 0
    output = args.output or ROOT / "data" / "tag-head" / args.model.name
    report = train_and_write(args.model, corpora, output)
    (output.parent / "auto_tags_report.json").write_text(json.dumps(report, indent=2))
    print(f"tag_head: wrote {output}", file=sys.stderr)
    return 0


def install(model: Path, corpora: list[tuple[Path, Path]]) -> dict:
    """Add the head to ``model`` in place, and its section to the model card beside it."""
    report = train_and_write(model, corpora, model)
    card = model.parent / "MODEL_CARD.md"
    if card.exists():
        write_card_section(card, report)
    print(f"tag_head: installed into {model}", file=sys.stderr)
    return report


CARD_HEADING = "## Auto-tags"


def write_card_section(card: Path, report: dict) -> None:
    """Replace (or add) the model card's auto-tag section with this report."""
    text = card.read_text(encoding="utf-8")
    text = text.split(CARD_HEADING)[0].rstrip() + "\n\n"
    text += "\n".join([
        CARD_HEADING, "",
        f"A {HIDDEN}-unit head on the track embedding predicts {len(vocab.NAMES)} tags (model/tags.py), "
        "trained on the musicnn teacher's tags (MSD_musicnn: Million Song Dataset audio with Last.fm tags; "
        "MTT_musicnn: MagnaTagATune) of the corpus below, after the encoder (its weights unchanged).",
        f"- data: {report['train_tracks']} training tracks (synthetic + real train packages); thresholds per tag "
        f"chosen for F1 on {report['val_real_tracks']} real tracks of the val packages; precision and recall "
        f"below on {report['test_real_tracks']} real tracks of the test packages, against the teacher's labels "
        f"({report['truth']}).",
        "- command: `python -m model.training.tag_head --corpus data/real/manifest.csv=data/teacher/real "
        "--corpus data/corpus/labels.csv=data/teacher/corpus --install`", "",
        "```", format_report(report["precision_recall_test"]), "```", ""])
    write_text_atomic(card, text)


if __name__ == "__main__":
    raise SystemExit(main())
