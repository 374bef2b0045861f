"""The default model's training recipe: ``python -m model.recipe`` (after the data exists).

``scripts/train-default-model.sh`` is the one command: it renders the synthetic corpus, collects
the real Debian music, then runs this module, which

1. trains the paper's network (CSN triplets per dimension + track triplets, lambda 0.5) on the
   ``train`` split of ``data/corpus`` plus the ``train`` split of ``data/real`` (real music has
   no genre/mood/instrument labels: it serves track triplets and, through its beat-tracker BPM,
   tempo triplets), validating on both ``val`` splits, in two stages: the foundation (from
   scratch, 60 epochs at lr 0.01, plain excerpts; ``data/train-default-foundation``), then on
   its weights the real-music stage (24 epochs at lr 0.002 with production chains and the
   teacher; ``data/train-default``). Re-running the command resumes
   where it stopped, in either stage; ``--init M`` starts the second stage from M instead;
2. evaluates on (a) the ``test`` split of ``data/corpus``, (b) ``data/corpus_heldout_sf`` (a
   soundfont never used in training), (c) the ``test`` split of ``data/real`` (track and tempo
   triplets), each with MFCC-VQ and untrained-network rows;
3. writes ``resources/models/default.pt``, its ``default.card.json`` and ``MODEL_CARD.md``,
   then fits the auto-tag head on it (``model.training.tag_head``) when teacher tags exist.

With the musicnn teacher's tags (``scripts/tag-corpus.sh`` -> ``data/teacher/``), training
distils them into the genre, mood and instrument blocks (``model.training.distill``) and
evaluation adds teacher agreement and leakage on held-out real music.
``--no-teacher`` trains the comparison model without them (``data/train-default-noteacher``),
which shows what the teacher adds; it is never installed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import torch

from model.baselines import fit_vq_on_files
from model.checkpoint import load_model, new_untrained_model, save_model
from model.device import resolve_device
from model.evaluate import NetworkEmbedder, VQEmbedder, evaluate, plan_triplets
from model.labels import read_labels_csv, select_split
from model.network import parameter_count
from model.synth.arrange import HELDOUT_PATTERN_FAMILY
from model.train import TrainConfig, fit, hardware_description, run_to_end

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "data" / "corpus" / "labels.csv"
HELDOUT_SF = ROOT / "data" / "corpus_heldout_sf" / "labels.csv"
REAL = ROOT / "data" / "real" / "manifest.csv"
WORKDIR = ROOT / "data" / "train-default"
FOUNDATION_WORKDIR = ROOT / "data" / "train-default-foundation"  # stage 1, shared by the ablation
TEACHER = ROOT / "data" / "teacher"  # <corpus folder name>/<path relative to its manifest>.npz
SMOKE = {"max_epochs": 1, "steps_per_epoch": 2, "val_triplets": 20, "checkpoint_every": 0,
         "dims": {"stem_channels": 8, "widths": (8, 8, 16, 16, 16, 16)}}  # pipeline check only
MODELS = ROOT / "resources" / "models"
# Two stages. A single from-scratch run on everything at once (teacher with half of each
# batch tagged, production chains, stretch) learned the synthetic dimensions about three times
# slower (validation genre .66 after 13 epochs, against .90 for the synthetic-first run) and
# its plateau schedule cut the lr at epoch 12; so the network first learns the labelled
# dimensions, then real music.
FOUNDATION = TrainConfig(max_epochs=60, steps_per_epoch=100, tracks_per_batch=16, num_workers=1,
                         decode_workers=2, checkpoint_every=25, max_seconds=60.0, val_triplets=300)  # fmt: skip
CONFIG = replace(FOUNDATION, max_epochs=24, lr=0.002, production=True)  # on the foundation
# Not in the recipe: stretch=0.08 with teacher_share=0.5 (TrainConfig), tried together for 12
# epochs on the shipped model, cost noise robustness (15-s noisy excerpt found first through
# search 70 -> 38 %) and synthetic mood/instrument (-5 points) for +3 points of 8 %-stretch
# retrieval; each alone is not measured yet.


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def teacher_cache(path: Path) -> Path | None:
    """The teacher's tag cache of a corpus or real-music file, if it has been tagged."""
    for manifest in (CORPUS, HELDOUT_SF, REAL):
        root = manifest.parent.resolve()
        if Path(path).resolve().is_relative_to(root):
            cache = TEACHER / root.name / Path(path).resolve().relative_to(root).with_suffix(".npz")
            return cache if cache.is_file() else None
    return None


def teacher_targets(labels: list, max_seconds: float):  # -> TeacherTargets
    """Teacher targets for the real tracks only: on our synthetic clips the teacher calls
    nearly every genre "jazz" and every mood alike (measured on 136 tagged clips), while
    their own labels are exact; so synthetic rows keep their labels and get no teacher."""
    from model.training.distill import TeacherTargets, track_targets

    real_root = REAL.parent.resolve()
    per_row = [track_targets(c, max_seconds)
               if Path(t.path).resolve().is_relative_to(real_root) and (c := teacher_cache(t.path)) else None
               for t in labels]
    return TeacherTargets.build(per_row)


def corpus_family(track) -> int:  # TrackLabels of data/corpus
    """The clip's comp/bass pattern family (model.synth.arrange), replayed from its labels."""
    from model.synth.arrange import pattern_family

    seconds = float(json.loads((CORPUS.parent / "corpus.json").read_text())["seconds"])
    return pattern_family(next(iter(track.genre)), next(iter(track.mood)), next(iter(track.instrument)),
                          float(track.bpm), int(track.extra["seed"]), seconds)


def split_families(tracks: list) -> tuple[list, list]:
    """(tracks of the trained pattern families, tracks of the held-out one)."""
    from model.synth.arrange import HELDOUT_PATTERN_FAMILY

    held = [corpus_family(t) == HELDOUT_PATTERN_FAMILY for t in tracks]
    return [t for t, h in zip(tracks, held, strict=True) if not h], [t for t, h in zip(tracks, held, strict=True) if h]


def stage_finished(workdir: Path, config: TrainConfig) -> bool:
    """Whether a stage ran all its epochs or stopped early (not: ran out of this invocation's time)."""
    last = workdir / "last.pt"
    if not last.exists():
        return False
    state = torch.load(last, map_location="cpu", weights_only=True)
    return state["epoch"] >= config.max_epochs or bool(state["scheduler"].get("early_stopped"))


def train_foundation(config: TrainConfig, workdir: Path) -> Path | None:
    """Stage 1 (resumed if started); its weights, or None while it is unfinished."""
    if not stage_finished(workdir, config):
        log(f"stage 1 of 2, the foundation, in {workdir}")
        train(config, workdir, use_teacher=False)
    return workdir / "trained.pt" if stage_finished(workdir, config) else None


def train(config: TrainConfig, workdir: Path, use_teacher: bool, init: Path | None = None) -> dict:
    corpus = split_families(read_labels_csv(CORPUS))[0]  # the held-out family is never trained on
    real = read_labels_csv(REAL) if REAL.exists() else []
    labels = select_split(corpus, "train", "val") + select_split(real, "train", "val")
    teacher = teacher_targets(labels, config.max_seconds) if use_teacher else None
    data = (f"{len(select_split(corpus, 'train'))} train / {len(select_split(corpus, 'val'))} val synthetic clips "
            f"({CORPUS.relative_to(ROOT)}, without comp/bass pattern family {HELDOUT_PATTERN_FAMILY}) + "
            f"{len(select_split(real, 'train'))} train / "
            f"{len(select_split(real, 'val'))} val real tracks ({REAL.relative_to(ROOT)}, unlabelled except beat-tracker BPM)")  # fmt: skip
    if init is not None:
        data += f"; initialised from {init.parent.name}/{init.name}"
    if teacher is not None:
        data += (f"; musicnn teacher tags for {int(teacher.known.sum())} of {len(labels)} tracks "
                 f"({TEACHER.relative_to(ROOT)})")
    log(f"training on {data}")
    job = fit(labels, workdir, config, init_model=init, output=workdir / "trained.pt", resume=True,
              cache_dir=ROOT / "data" / "cache", data_description=data, teacher=teacher)  # fmt: skip

    def report(p) -> None:
        if p.phase != "train" or p.step % 25 == 0:
            acc = " ".join(f"{k} {v:.3f}" for k, v in (p.val_accuracy or {}).items())
            loss = f" loss {p.loss:.4f}" if p.loss is not None else ""
            log(f"{p.phase} epoch {p.epoch} step {p.step}/{p.steps_per_epoch}{loss} lr {p.lr:.2g} {acc} {p.message}")

    result = run_to_end(job, report)
    return result.card


def evaluate_sets(model_path: Path, n: int, seed: int = 0) -> dict[str, dict]:
    network, info = load_model(model_path)
    device = resolve_device("auto")
    corpus = read_labels_csv(CORPUS)
    vq, _ = fit_vq_on_files([t.path for t in select_split(corpus, "train")], seed=seed)
    trained_families, held_family = split_families(select_split(corpus, "test"))
    sets = {"a: held-out split of the synthetic corpus": trained_families,
            f"d: held-out comp/bass pattern family {HELDOUT_PATTERN_FAMILY} (test split, never trained on)": held_family}
    if HELDOUT_SF.exists():
        sets["b: unseen soundfont (MuseScore_General_Lite)"] = read_labels_csv(HELDOUT_SF)
    if REAL.exists():
        sets["c: real music (Debian game soundtracks), test split"] = select_split(read_labels_csv(REAL), "test")
    embedders = [VQEmbedder(vq), NetworkEmbedder("untrained network", new_untrained_model(seed, info.dims), device),
                 NetworkEmbedder("soundalike default", network, device)]  # fmt: skip
    reports = {}
    for name, tracks in sets.items():
        if len(tracks) < 3:  # e.g. real music not collected yet: no triplets to draw
            log(f"skipping {name}: {len(tracks)} tracks")
            continue
        log(f"evaluating {name}: {len(tracks)} tracks")
        plan = plan_triplets(tracks, n, seed)
        if vq.note:
            plan.notes.append(vq.note)
        reports[name] = run_to_end(evaluate(plan, embedders))
        log("\n" + reports[name].format_table())
    return reports


def teacher_report(model_path: Path) -> str:
    """Teacher agreement and leakage on the real-music test split (where it has been tagged)."""
    from model.training.teacher_eval import embed_tagged, evaluate_against_teacher

    if not REAL.exists():
        return "teacher agreement: no real music collected"
    vectors, caches = embed_tagged(model_path, REAL, TEACHER / REAL.parent.name, ["test"])
    return evaluate_against_teacher(vectors, caches)


def model_card_markdown(card: dict, reports: dict, command: str, dims: dict, params: int) -> str:
    lines = ["# soundalike default model", "",
             "Trained by a re-runnable recipe; every number below was measured by it.", "",
             "## Command", "", f"    {command}", "",
             "## Data", "", f"- {card['data']}",
             "- genre, mood, instrument: synthetic labels of the procedural corpus (model/synth)"
             + (", plus the musicnn teacher's tag probabilities distilled into the genre, mood and "
                "instrument blocks (model/training/distill.py). The teacher's weights (musicnn 0.1.0, "
                "ISC licence, MTG/UPF) were trained on the Million Song Dataset with Last.fm tags "
                "(MSD_musicnn) and on MagnaTagATune (MTT_musicnn, non-commercial audio); this model "
                "learned from their outputs on the corpus above, not from their audio."
                if "teacher" in card['data'] else "; no pseudo-labels from a tagger (musicnn) were used.")
             + " tempo: synthetic BPM plus beat-tracker BPM of the real tracks; track triplets: both.", "",
             "## Training", "",
             f"- network: paper Inception CSN{TEMPO_BRANCH_NOTE if dims.get('tempo_lags') else ''}, dims {json.dumps(dims)}, {params:,} parameters",
             *foundation_lines(card.get("foundation")),
             f"- epochs run{' (stage 2, real music)' if card.get('foundation') else ''}: {card['epochs']} "
             f"(best epoch {card['best_epoch']}); training time this invocation: {card['training_time_s'] / 3600:.2f} h",
             f"- hardware: {card['hardware']} ({platform.platform()})",
             f"- config: `{json.dumps(card['config'])}`",
             f"- validation before: `{json.dumps(card['validation_before'])}`",
             f"- validation after: `{json.dumps(card['validation_after'])}`", "",
             "## Evaluation (held-out triplets, paper Tables 1 and 2 layout)", ""]  # fmt: skip
    for name, report in reports.items():
        lines += [f"### {name}", "", "```", report.format_table(), "```", ""]
    if card.get("teacher_evaluation"):
        lines += ["### Teacher agreement and leakage (real music, test split)", "", "```",
                  card["teacher_evaluation"], "```", ""]
    lines += targets_markdown(next(iter(reports.values()))) if reports else []
    lines += ["## On a GPU", "",
              "The recipe runs unchanged with CUDA (device auto, bf16/fp16 autocast, GradScaler). Not measured "
              "here (no GPU on this machine); expect the network step to stop being the bottleneck, so larger "
              "batches (`tracks_per_batch` 64+, more in-batch triplets) and the 60-epoch schedule with early "
              "stopping would fit in well under an hour.", ""]  # fmt: skip
    return "\n".join(lines)


def foundation_lines(foundation: dict | None) -> list[str]:
    if not foundation:
        return []
    return [f"- stage 1, the foundation (from scratch): {foundation['epochs']} epochs (best {foundation['best_epoch']}), "
            f"{foundation['training_time_s'] / 3600:.2f} h in its last invocation; config "
            f"`{json.dumps(foundation['config'])}`"]


TEMPO_BRANCH_NOTE = (" plus a tempo branch (flux autocorrelation -> MLP, added to the tempo block; "
                     "model/network.py TempoBranch)")
PAPER_TARGETS = {"genre": 0.785, "mood": 0.790, "instrument": 0.798, "tempo": 0.955, "track": 0.988}


def targets_markdown(report) -> list[str]:
    """The issue's targets on set (a): paper Table 1/2 and >= 20 points above MFCC-VQ."""
    rows = {(r["space"], r["model"]): r for r in report.rows}
    model = rows.get(("Sub-dimensions", "soundalike default"), {})
    full = rows.get(("All-dimensions", "soundalike default"), {})
    vq = next((r for (space, name), r in rows.items() if name.startswith("MFCC-VQ")), {})
    lines = ["## Targets on (a)", "", "| | model | paper | MFCC-VQ + 0.20 | met |", "|---|---|---|---|---|"]
    for key, target in PAPER_TARGETS.items():
        value = full.get("track") if key == "track" else model.get(key)
        base = vq.get(key)
        if value is None:
            continue
        reachable = base is not None and base + 0.20 <= 1.0  # track: MFCC-VQ is already > .8
        bar = max(target, base + 0.20) if reachable else target
        margin = "-" if base is None else f"{base + 0.20:.3f}" + ("" if reachable else " (unreachable)")
        lines.append(f"| {key} | {value:.3f} | {target:.3f} | {margin} | {'yes' if value >= bar else 'no'} |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.recipe", description=__doc__.split("\n")[0])
    parser.add_argument("--max-minutes", type=float, default=240.0, help="training wall-clock budget per invocation")
    parser.add_argument("--epochs", type=int, default=CONFIG.max_epochs, help="of the real-music stage")
    parser.add_argument("--foundation-epochs", type=int, default=FOUNDATION.max_epochs)
    parser.add_argument("--triplets", type=int, default=1000, help="evaluation triplets per dimension")
    parser.add_argument("--init", type=Path, help="start the real-music stage from this model, not the foundation")
    parser.add_argument("--lr", type=float, default=CONFIG.lr, help="Adam learning rate of the real-music stage")
    parser.add_argument("--install", action="store_true", help="write resources/models/default.pt and MODEL_CARD.md")
    parser.add_argument("--smoke", action="store_true", help="tiny network, 2 steps: check the pipeline in minutes")
    parser.add_argument("--skip-training", action="store_true", help="evaluate/install the last trained model only")
    parser.add_argument("--no-teacher", action="store_true",
                        help="the comparison model: no teacher distillation (data/train-default-noteacher)")
    args = parser.parse_args(argv)
    if args.smoke and args.install:
        parser.error("--smoke models are never installed")
    if args.no_teacher and args.install:
        parser.error("the no-teacher comparison model is never installed")
    workdir = WORKDIR.with_name(WORKDIR.name + "-smoke") if args.smoke else WORKDIR
    if args.no_teacher:
        workdir = workdir.with_name(workdir.name + "-noteacher")
    command = "scripts/train-default-model.sh " + shlex.join(sys.argv[1:] if argv is None else argv)
    if not CORPUS.exists():
        log(f"{CORPUS} is missing: run scripts/make-corpus.sh first")
        return 1
    started = time.time()
    smoke = SMOKE if args.smoke else {}
    config = replace(CONFIG, **{"max_epochs": args.epochs, "lr": args.lr, **smoke})
    foundation = replace(FOUNDATION, **{"max_epochs": args.foundation_epochs, "max_minutes": args.max_minutes, **smoke})
    log(f"torch threads {torch.get_num_threads()}, load average {os.getloadavg()}, {hardware_description(resolve_device('auto'))}")
    trained = workdir / "trained.pt"
    if args.skip_training:
        card = load_model(trained)[1].card
    else:
        foundation_dir = FOUNDATION_WORKDIR.with_name(FOUNDATION_WORKDIR.name + "-smoke") if args.smoke else FOUNDATION_WORKDIR
        init = args.init or train_foundation(foundation, foundation_dir)
        if init is None:
            log("the foundation stage is not finished: run the same command again to resume it")
            return 0
        minutes_left = args.max_minutes - (time.time() - started) / 60
        if minutes_left <= 0:
            log("time budget used up after the foundation: run the same command again for the real-music stage")
            return 0
        log(f"stage 2 of 2, real music, from {init}, in {workdir}")
        card = train(replace(config, max_minutes=minutes_left), workdir, use_teacher=not args.no_teacher, init=init)
        if args.init is None:
            stage1 = load_model(init)[1].card
            card["foundation"] = {k: stage1.get(k) for k in ("epochs", "best_epoch", "training_time_s", "config")}
    reports = evaluate_sets(trained, 20 if args.smoke else args.triplets)
    teacher_text = teacher_report(trained)
    log(teacher_text)
    (workdir / "evaluation.json").write_text(json.dumps({k: r.to_json() for k, r in reports.items()}, indent=2))
    card = {**card, "evaluation": {k: r.to_json() for k, r in reports.items()}, "command": command,
            "teacher_evaluation": teacher_text}
    network, info = load_model(trained)
    markdown = model_card_markdown(card, reports, command, asdict(info.dims), parameter_count(network))
    (workdir / "MODEL_CARD.md").write_text(markdown)
    if args.install:
        MODELS.mkdir(parents=True, exist_ok=True)
        save_model(MODELS / "default.pt", network, info.dims, card)
        (MODELS / "default.card.json").write_text(json.dumps(card, indent=2, default=str))
        (MODELS / "MODEL_CARD.md").write_text(markdown)
        log(f"installed {MODELS / 'default.pt'}")
        if not args.no_teacher and (TEACHER / REAL.parent.name).is_dir():
            from model.training.tag_head import install

            install(MODELS / "default.pt", [(REAL, TEACHER / REAL.parent.name), (CORPUS, TEACHER / CORPUS.parent.name)])
    else:
        log(f"model and card in {workdir} (add --install to write resources/models/)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
