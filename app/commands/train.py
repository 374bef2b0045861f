"""``soundalike train FOLDER``: fine-tune a model on your own music.

Labels come from one source: ``--csv LABELS.csv`` (path,genre,mood,instrument,bpm), ``--tags``
(the files' genre, mood and BPM tags), ``--folders`` (a folder name is the genre; folders
named ``mood=calm`` or ``bpm=120`` set those), or ``--label-free`` (no labels: track triplets
and contrastive training on augmented excerpts). Without a flag, FOLDER/labels.csv is used
when it exists, else the tags; with no usable label at all, training is label-free.

Training starts from the shipped model (or ``--from MODEL``) and never overwrites it: the
result goes to ``-o OUT.pt`` or a timestamped file in the per-user models folder, with a
model card (data, epochs, time, hardware, validation accuracy before and after). Checkpoints
live next to the output in ``OUT.training/``; ``--resume`` continues an interrupted run.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from app.cli import CliError

HELP = "fine-tune a model on your music (labels from a CSV, tags, folders, or none)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", metavar="FOLDER", help="music folder (recursive)")
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--csv", metavar="LABELS.csv", help="labels file: path,genre,mood,instrument,bpm")
    source.add_argument("--tags", action="store_true", help="labels from the files' genre, mood and BPM tags")
    source.add_argument("--folders", action="store_true", help="labels from folder names (see docs)")
    source.add_argument("--label-free", action="store_true", help="no labels: track + contrastive training")
    parser.add_argument("--from", dest="init", metavar="MODEL", help="model to start from (default: the shipped model)")
    parser.add_argument("--scratch", action="store_true", help="start from random weights instead")
    parser.add_argument("--epochs", type=int, metavar="N", help="at most N epochs (early stopping may end sooner)")
    parser.add_argument("--steps-per-epoch", type=int, metavar="N", help="batches per epoch (default: each track once)")
    parser.add_argument("--lr", type=float, metavar="LR", help="Adam learning rate (default 0.001 when fine-tuning, 0.01 from scratch)")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--workers", type=int, metavar="N", help="data-loading processes (default 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("-o", "--output", metavar="OUT.pt", help="where to write the new model")
    parser.add_argument("--resume", action="store_true", help="continue the interrupted run that writes OUT.pt (needs -o)")


def _is_shipped_default(path: Path) -> bool:
    from app.core.model_registry import SHIPPED_MODELS_DIR

    path = path.expanduser().resolve()
    return path.parent == SHIPPED_MODELS_DIR.resolve() and path.name.startswith("default")


def _labels(args: argparse.Namespace) -> tuple[list, str, str]:
    """(labels, mode, description of the data)."""
    from model.labels import (
        find_audio_files,
        labels_from_folders,
        labels_from_tags,
        read_labels_csv,
    )

    folder = Path(args.folder)
    if not folder.is_dir():
        raise CliError(f"{folder}: not a folder")
    csv_path = Path(args.csv) if args.csv else None
    if csv_path is None and not (args.tags or args.folders or args.label_free) and (folder / "labels.csv").is_file():
        csv_path = folder / "labels.csv"
    if csv_path is not None:
        try:
            labels = read_labels_csv(csv_path)
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read labels: {exc}") from None
        missing = [t for t in labels if not t.path.is_file()]
        if missing:
            print(f"train: {len(missing)} files in {csv_path} do not exist (first: {missing[0].path}); skipped", file=sys.stderr)
        labels = [t for t in labels if t.path.is_file()]
        source = f"labels from {csv_path}"
    elif args.folders:
        labels, source = labels_from_folders(folder), "labels from folder names"
    else:
        files = find_audio_files(folder)
        if args.label_free:
            labels, source = [labels_from_tags(p) for p in files], "no labels"
        else:
            from app.core.tags import read_tags

            labels = []
            for path in files:
                tags = read_tags(path)
                labels.append(labels_from_tags(path, genre=str(tags.get("genre") or ""),
                                               mood=str(tags.get("mood") or ""), bpm=tags.get("bpm")))  # fmt: skip
            source = "labels from file tags (genre, mood, BPM)"
    if len(labels) < 4:
        raise CliError(f"found {len(labels)} audio files under {folder}; training needs at least 4")
    labelled = sum(t.has_labels for t in labels)
    mode = "triplet"
    if args.label_free or labelled == 0:
        mode = "label-free"
        if not args.label_free:
            print("train: no track has a usable label; training label-free (track + contrastive)", file=sys.stderr)
    return labels, mode, f"{len(labels)} tracks under {folder} ({labelled} labelled), {source}"


def _print_progress(progress, interactive: bool, state: dict) -> None:
    if progress.phase == "train":
        now = time.monotonic()
        if interactive or now - state.get("last", 0.0) > 10:
            line = (f"epoch {progress.epoch + 1} step {progress.step}/{progress.steps_per_epoch} "
                    f"loss {progress.loss:.4f} lr {progress.lr:.2g} {progress.rate or 0:.2f} steps/s"
                    + (f", epoch ends in {progress.eta_s:.0f} s" if progress.eta_s is not None else ""))  # fmt: skip
            print(f"\r\033[K{line}" if interactive else line, end="" if interactive else "\n", file=sys.stderr, flush=True)
            state["last"] = now
        return
    if interactive:
        print("\r\033[K", end="", file=sys.stderr)
    if progress.val_accuracy:
        scores = " ".join(f"{k} {v:.3f}" for k, v in progress.val_accuracy.items())
        print(f"epoch {progress.epoch}: validation loss {progress.val_loss or 0:.4f}; {scores} {progress.message}", file=sys.stderr)
    elif progress.message:
        print(progress.message, file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    from app.core.model_registry import new_user_model_path, user_data_dir, write_card
    from app.core.resources import default_model_path
    from model.checkpoint import ModelFileError
    from model.train import TrainConfig, fit, with_overrides

    if args.resume and not args.output:
        raise CliError("--resume needs -o OUT.pt: the run to continue is the one writing OUT.pt")
    output = Path(args.output) if args.output else new_user_model_path(time.strftime("finetuned-%Y%m%d-%H%M%S"))
    if _is_shipped_default(output):
        raise CliError(f"{output}: refusing to overwrite the shipped model; choose another -o")
    init = None
    if not args.scratch:
        init = Path(args.init) if args.init else default_model_path()
        if init is None:
            print("train: no shipped model found (resources/models/default.pt); training from scratch", file=sys.stderr)
        elif not init.is_file():
            raise CliError(f"no model file at {init}")
    labels, mode, description = _labels(args)
    # Fine-tuning starts 10x lower than the paper's from-scratch lr so it adapts, not forgets.
    lr = args.lr if args.lr is not None else (0.001 if init is not None else None)
    config = with_overrides(TrainConfig(mode=mode, device=args.device, seed=args.seed), max_epochs=args.epochs,
                            steps_per_epoch=args.steps_per_epoch, lr=lr, num_workers=args.workers)  # fmt: skip
    workdir = output.with_name(output.stem + ".training")
    print(f"train: {description}; mode {mode}; from {init or 'scratch'}; writing {output}", file=sys.stderr)
    job = fit(labels, workdir, config, init_model=init, output=output, resume=args.resume,
              cache_dir=user_data_dir() / "cache", data_description=description)  # fmt: skip
    state: dict = {}
    interactive = sys.stderr.isatty()
    try:
        while True:
            try:
                progress = next(job)
            except StopIteration as done:
                result = done.value
                break
            _print_progress(progress, interactive, state)
    except KeyboardInterrupt:
        job.close()
        raise CliError(f"interrupted; checkpoints are in {workdir}; continue with --resume -o {output}") from None
    except (ValueError, ModelFileError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    write_card(output, result.card)
    before, after = result.before, result.after
    print(f"wrote {output} ({result.epochs} epochs)")
    for key in after:
        if key != "loss":
            print(f"  {key:<11} {before.get(key, float('nan')):.3f} -> {after[key]:.3f}")
    return 0
