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
Ctrl+C keeps the best epoch so far as OUT.pt, as cancelling does in the app: both run the
same workflow (``app.core.finetune``).
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


def _label_source(args: argparse.Namespace) -> str:
    if args.csv:
        return "csv"
    return next((how for how in ("tags", "folders", "label_free") if getattr(args, how)), "auto").replace("_", "-")


def run(args: argparse.Namespace) -> int:
    from app.core import finetune
    from app.core.model_registry import (
        ModelChoiceError,
        new_user_model_path,
        resolve_model,
        training_dir,
    )
    from model.checkpoint import ModelFileError

    if args.resume and not args.output:
        raise CliError("--resume needs -o OUT.pt: the run to continue is the one writing OUT.pt")
    output = Path(args.output) if args.output else new_user_model_path(time.strftime("finetuned-%Y%m%d-%H%M%S"))
    if _is_shipped_default(output):
        raise CliError(f"{output}: refusing to overwrite the shipped model; choose another -o")
    init = None
    if not args.scratch:
        try:  # the one model choice: --from, else $SOUNDALIKE_MODEL, else the shipped default
            entry = resolve_model(args.init)
        except ModelChoiceError as exc:
            raise CliError(str(exc)) from None
        init = entry.path if entry is not None else None
        if init is None:
            print("train: no trained model installed (resources/models/default.pt); training from scratch",
                  file=sys.stderr)  # fmt: skip
    try:
        found = finetune.gather_labels(args.folder, _label_source(args), csv=args.csv)
    except finetune.FinetuneError as exc:
        raise CliError(str(exc)) from None
    for note in found.notes:
        print(f"train: {note}", file=sys.stderr)
    config = finetune.configure(found, fine_tuning=init is not None, epochs=args.epochs, steps_per_epoch=args.steps_per_epoch,
                                lr=args.lr, device=args.device, seed=args.seed, workers=args.workers)  # fmt: skip
    print(f"train: {found.description}; mode {found.mode}; from {init or 'scratch'}; writing {output}", file=sys.stderr)
    job = finetune.run(found, config, output, init_model=init, resume=args.resume)
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
        job.close()  # keeps the best epoch so far as OUT.pt
        kept = f"the best epoch so far is saved as {output}; " if output.exists() else ""
        raise CliError(f"interrupted; {kept}checkpoints are in {training_dir(output)}; "
                       f"continue with --resume -o {output}") from None  # fmt: skip
    except (finetune.FinetuneError, ModelFileError) as exc:
        raise CliError(str(exc).splitlines()[0]) from None
    before, after = result.before, result.after
    print(f"wrote {output} ({result.epochs} epochs)")
    for note in result.card.get("notes", []):  # e.g. no ONNX twin: searches with it load torch
        print(f"train: {note}", file=sys.stderr)
    for key in after:
        if key != "loss":
            print(f"  {key:<11} {before.get(key, float('nan')):.3f} -> {after[key]:.3f}")
    return 0
