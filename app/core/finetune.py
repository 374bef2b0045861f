"""Fine-tuning on the user's music: the one workflow behind ``soundalike train`` and the app.

Public API::

    found = gather_labels(folder, "auto" | "csv" | "tags" | "folders" | "label-free", csv=None)
    counts = summarize(found.labels)                     # what the app shows before Start
    config = configure(found, fine_tuning=True, epochs=..., ...)
    job = run(found, config, output, init_model=..., resume=False)   # generator of TrainProgress
    result = <StopIteration value>                       # model.train.TrainResult
    job.close()                                          # cancel: the best epoch is kept as ``output``

Both faces only parse their input and show progress: the label sources, the choice between
triplet and label-free training, the fine-tuning learning rate, the card, and what a
cancel keeps are decided here. Training state (checkpoints in ``training_dir(output)``)
stays, so an interrupted run can continue with ``resume=True``.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from app.core.model_registry import training_dir, user_data_dir, write_card

if TYPE_CHECKING:
    from model.labels import TrackLabels
    from model.train import TrainConfig, TrainProgress, TrainResult

LABEL_SOURCES = ("auto", "csv", "tags", "folders", "label-free")
MIN_TRACKS = 4
FINE_TUNE_LR = 0.001  # 10x below the paper's from-scratch 0.01: adapt, don't forget


class FinetuneError(Exception):
    """Training cannot start or go on; ``str(e)`` is one line for the user."""


@dataclass(frozen=True)
class LabelSet:
    """The tracks to train on and how they were labelled."""

    labels: list[TrackLabels]
    mode: str  # model.train mode: "triplet" or "label-free"
    description: str  # for the model card
    notes: list[str] = field(default_factory=list)  # things the user should know (skipped files)

    @property
    def labelled(self) -> int:
        return sum(t.has_labels for t in self.labels)


def _tag_labels(files: Sequence[Path]) -> list[TrackLabels]:
    from app.core.tags import read_tags
    from model.labels import labels_from_tags

    found = []
    for path in files:
        tags = read_tags(path)
        found.append(labels_from_tags(path, genre=str(tags.get("genre") or ""), mood=str(tags.get("mood") or ""),
                                      bpm=tags.get("bpm")))  # type: ignore[arg-type]  # fmt: skip
    return found


def gather_labels(source: str | Path, how: str = "auto", csv: str | Path | None = None) -> LabelSet:
    """Labels for the audio under ``source`` (a folder; for ``csv`` also the CSV file itself).

    ``auto``: ``source/labels.csv`` when it exists, else the files' tags. ``folders``: a
    folder name is the genre, ``mood=calm`` / ``bpm=120`` folders set those. With no usable
    label at all, training is label-free (track + contrastive).
    """
    from model.labels import (
        find_audio_files,
        labels_from_folders,
        labels_from_tags,
        read_labels_csv,
    )

    if how not in LABEL_SOURCES:
        raise FinetuneError(f"unknown label source {how!r}; use one of {', '.join(LABEL_SOURCES)}")
    source = Path(source)
    notes: list[str] = []
    csv_path = Path(csv) if csv else None
    if how == "csv" and csv_path is None:
        csv_path = source if source.is_file() else source / "labels.csv"
    elif how == "auto" and csv_path is None and (source / "labels.csv").is_file():
        csv_path = source / "labels.csv"
    if csv_path is not None:
        try:
            labels = read_labels_csv(csv_path)
        except (OSError, ValueError) as exc:
            raise FinetuneError(f"cannot read labels: {exc}") from None
        missing = [t for t in labels if not t.path.is_file()]
        if missing:
            notes.append(f"{len(missing)} files in {csv_path} do not exist (first: {missing[0].path}); skipped")
        labels = [t for t in labels if t.path.is_file()]
        origin = f"labels from {csv_path}"
    elif not source.is_dir():
        raise FinetuneError(f"{source}: not a folder")
    elif how == "folders":
        labels, origin = labels_from_folders(source), "labels from folder names"
    elif how == "label-free":
        labels, origin = [labels_from_tags(p) for p in find_audio_files(source)], "no labels"
    else:
        labels, origin = _tag_labels(find_audio_files(source)), "labels from file tags (genre, mood, BPM)"
    if len(labels) < MIN_TRACKS:
        raise FinetuneError(f"found {len(labels)} audio files under {source}; training needs at least {MIN_TRACKS}")
    labelled = sum(t.has_labels for t in labels)
    mode = "label-free" if how == "label-free" or labelled == 0 else "triplet"
    if mode == "label-free" and how != "label-free":
        notes.append("no track has a usable label; training label-free (track + contrastive)")
    description = f"{len(labels)} tracks under {source} ({labelled} labelled), {origin}"
    return LabelSet(labels, mode, description, notes)


def summarize(labels: Sequence[TrackLabels]) -> dict[str, dict[str, int]]:
    """Tracks per tag per dimension (and how many have a BPM)."""
    counts: dict[str, dict[str, int]] = {"tracks": {"all": len(labels)}}
    for item in labels:
        for dim in ("genre", "mood", "instrument"):
            for tag in item.tags(dim):
                counts.setdefault(dim, {}).setdefault(tag, 0)
                counts[dim][tag] += 1
        if item.bpm is not None:
            counts.setdefault("tempo", {}).setdefault("with BPM", 0)
            counts["tempo"]["with BPM"] += 1
    return counts


def configure(
    found: LabelSet, *, fine_tuning: bool, epochs: int | None = None, steps_per_epoch: int | None = None,
    lr: float | None = None, device: str = "auto", seed: int = 0, workers: int | None = None,
) -> TrainConfig:
    """The training settings; unset values keep ``TrainConfig``'s defaults.

    Fine-tuning (starting from a model) starts at ``FINE_TUNE_LR`` unless ``lr`` is given.
    """
    from model.train import TrainConfig, with_overrides

    if lr is None and fine_tuning:
        lr = FINE_TUNE_LR
    return with_overrides(TrainConfig(mode=found.mode, device=device, seed=seed), max_epochs=epochs or None,
                          steps_per_epoch=steps_per_epoch or None, lr=lr, num_workers=workers)  # fmt: skip


def run(
    found: LabelSet, config: TrainConfig, output: Path, *, init_model: Path | None = None,
    resume: bool = False, keep_best_on_cancel: bool = True,
) -> Generator[TrainProgress, None, TrainResult]:
    """Train; yields progress (each yield is a cancellation point), returns the result.

    Closing the generator cancels: with ``keep_best_on_cancel`` the best epoch so far is
    written to ``output`` with a card marked cancelled. The checkpoints stay either way.
    """
    from model.train import fit

    job = fit(found.labels, training_dir(output), config, init_model=init_model, output=output, resume=resume,
              cache_dir=user_data_dir() / "cache", data_description=found.description)  # fmt: skip
    try:
        result = yield from job
    except GeneratorExit:
        job.close()
        if keep_best_on_cancel:
            keep_best(output, found, config)
        raise
    except ValueError as exc:  # too few tracks left after decoding, an unusable model file
        raise FinetuneError(str(exc).splitlines()[0]) from None
    write_card(output, result.card)
    return result


def keep_best(output: Path, found: LabelSet, config: TrainConfig) -> bool:
    """Write the best epoch of the run behind ``output`` as ``output``; False before epoch 1."""
    from model.train import best_state, save_state_as_model, state_accuracy

    state = best_state(training_dir(output))
    if state is None or not state.get("epoch"):
        return False
    card = {
        "data": found.description, "mode": config.mode, "epochs": int(state["epoch"]), "cancelled": True,
        "saved_at": time.strftime("%Y-%m-%d %H:%M:%S"), "validation_before": dict(state.get("before") or {}),
        "validation_after": state_accuracy(state),
    }  # fmt: skip
    save_state_as_model(state, output, card)
    write_card(output, card)
    return True
