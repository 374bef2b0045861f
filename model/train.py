"""The bundled trainer, readable top to bottom (nanoGPT style).

``fit(labels, workdir, config)`` is a generator: every ``yield`` is a :class:`TrainProgress`
and a cancellation point (the CLI prints it, a GUI worker turns it into a signal and stops
iterating to cancel). Its return value is a :class:`TrainResult`.

What one run does:
1. split the labelled tracks (a ``split`` column wins, else a stable hash: 10 % validation);
2. decode every clip once into the audio cache (``model.datasets``);
3. build the network (from scratch, or the weights of ``init_model`` to fine-tune);
4. each step: two excerpts (<= 50 % overlap) of each of M tracks -> log-mel -> embeddings;
   ``triplet`` mode: CSN triplet loss on every valid in-batch triplet per dimension plus
   lambda * track triplets on the full space (paper eq. 5); ``label-free`` mode: NT-Xent
   between two augmented excerpts plus lambda * track triplets. With ``teacher`` targets
   (``model.training.distill``), the teacher's pair calls fill the triplets that labels
   leave undecided, and per-block heads learn the teacher's tags;
5. each epoch: validation loss/accuracy on fixed held-out triplets; Adam's lr / 5 after
   ``patience`` epochs without a lower validation loss, at most ``max_reductions`` times, then
   early stop (paper section 3.2); checkpoint ``last.pt`` (and ``best.pt`` when better);
6. at the end, the best weights go to ``output`` with a model card.
"""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Generator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from model.atomic import atomic_path
from model.augment import Augment, Production
from model.datasets import PairBatches, cache_key, ensure_cache
from model.device import choose_precision, resolve_device
from model.features import LogMel
from model.labels import TrackLabels, assign_splits
from model.losses import csn_loss, nt_xent, track_triplet_loss
from model.network import CSNInception, ModelDims
from model.samplers import label_arrays, pair_matrices
from model.validation import ValidationSet

if TYPE_CHECKING:  # training-only: imported in fit() when distilling (the app's fine-tuning never does)
    from model.training.distill import TeacherTargets

CHECKPOINT_VERSION = 1
MODES = ("triplet", "label-free")


@dataclass(frozen=True)
class TrainConfig:
    mode: str = "triplet"  # "triplet" (CSN + track) or "label-free" (contrastive + track)
    max_epochs: int = 200  # early stopping normally ends the run first
    steps_per_epoch: int = 0  # 0: enough steps for every training track to appear once
    tracks_per_batch: int = 16  # the batch holds two excerpts of each
    lr: float = 0.01  # Adam, paper section 3.2
    lr_divisor: float = 5.0
    patience: int = 4  # epochs without a lower validation loss before lr / 5
    max_reductions: int = 5  # then early stop
    margin: float = 0.1
    track_weight: float = 0.5  # lambda
    temperature: float = 0.1  # NT-Xent, label-free mode
    seed: int = 0
    device: str = "auto"  # "auto", "cpu", "cuda"
    amp: str = "auto"  # "auto": fp16/bf16 on CUDA, bf16 on CPUs with native bf16; "off"
    num_workers: int = 1  # data-loader processes (0: load in the training process)
    decode_workers: int = 2  # processes decoding files into the cache (1: in-process)
    val_fraction: float = 0.1
    val_triplets: int = 300  # per dimension and for track triplets
    max_val_tracks: int = 400
    max_seconds: float = 60.0  # audio cached per track (the middle part of long tracks)
    checkpoint_every: int = 0  # also checkpoint every N steps within an epoch (0: per epoch)
    max_minutes: float = 0.0  # stop after the epoch that passes this wall-clock budget (0: none)
    dims: dict = field(default_factory=dict)  # ModelDims overrides when training from scratch
    production: bool = False  # random production chains on training excerpts (model.augment.Production)
    stretch: float = 0.0  # time-stretch one excerpt of half the track pairs by up to ±this (PairBatches)
    teacher_share: float | None = None  # expected share of a batch from teacher-tagged tracks (None: uniform)


@dataclass(frozen=True)
class TrainProgress:
    phase: str  # "cache", "train", "validate", "done"
    epoch: int
    step: int  # step within the epoch
    steps_per_epoch: int
    loss: float | None = None
    val_loss: float | None = None
    val_accuracy: dict[str, float] | None = None
    lr: float = 0.0
    rate: float | None = None  # steps per second
    eta_s: float | None = None  # to the end of this epoch
    message: str = ""


@dataclass(frozen=True)
class TrainResult:
    output: Path | None
    best_checkpoint: Path
    epochs: int
    best_val_loss: float
    before: dict[str, float]
    after: dict[str, float]
    card: dict


def load_grown(network: torch.nn.Module, state_dict: dict[str, torch.Tensor]) -> list[str]:
    """Load a checkpoint into a network that may have gained modules since it was written.

    Returns the names of parameters the checkpoint did not have (left as initialised).
    A checkpoint with weights the network lacks, or of other shapes, is another
    architecture and raises ``RuntimeError``.
    """
    result = network.load_state_dict(state_dict, strict=False)
    if result.unexpected_keys:
        raise RuntimeError(f"checkpoint has weights this network lacks: {result.unexpected_keys[:3]}")
    return list(result.missing_keys)


def hardware_description(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA {torch.cuda.get_device_name(device)}"
    import os

    return f"CPU {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}"


def save_checkpoint(path: Path, state: dict) -> None:
    with atomic_path(path) as tmp:  # a crash never leaves half a checkpoint
        torch.save(state, tmp)


def fit(
    labels: Sequence[TrackLabels],
    workdir: str | Path,
    config: TrainConfig = TrainConfig(),
    init_model: str | Path | None = None,
    output: str | Path | None = None,
    resume: bool = False,
    cache_dir: str | Path | None = None,
    data_description: str = "",
    teacher: TeacherTargets | None = None,
) -> Generator[TrainProgress, None, TrainResult]:
    if config.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {config.mode!r}")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    started = time.time()
    torch.manual_seed(config.seed)
    device = resolve_device(config.device)
    precision = choose_precision(device, "fp32" if config.amp == "off" else config.amp)
    amp_dtype = None if precision == torch.float32 else precision

    # 1. splits and label arrays (rows of ``labels`` are the index every batch refers to)
    labels = assign_splits(labels, val_fraction=config.val_fraction)
    arrays = label_arrays(labels)
    train_rows = [i for i, t in enumerate(labels) if t.split == "train"]
    val_rows = [i for i, t in enumerate(labels) if t.split == "val"][: config.max_val_tracks]
    if len(train_rows) < 2 or len(val_rows) < 2:
        raise ValueError(f"need >= 2 training and >= 2 validation tracks, have {len(train_rows)} and {len(val_rows)}")

    # 2. decode once into the cache
    rows = train_rows + val_rows
    cache_dir = Path(cache_dir) if cache_dir else workdir / "cache"
    yield TrainProgress("cache", 0, 0, 0, message=f"decoding {len(rows)} tracks into {cache_dir}")
    cache = ensure_cache([labels[i].path for i in rows], cache_dir, config.max_seconds, workers=config.decode_workers)
    position = {row: k for k, row in enumerate(rows)}  # label row -> cache track
    failed = [t for t in cache.tracks if t.error]
    val_rows = [r for r in val_rows if not cache.tracks[position[r]].error]  # train rows: see PairBatches
    if failed:
        yield TrainProgress("cache", 0, 0, 0, message=f"{len(failed)} files could not be decoded, e.g. {failed[0].error}")

    # 3. network, optimiser, schedule (all restored on resume)
    if init_model is not None:
        from model.checkpoint import load_model

        network, model_file = load_model(init_model, map_location="cpu")
        dims = model_file.dims
    else:
        dims = ModelDims(**config.dims)
        network = CSNInception(dims)
    network.to(device)
    logmel = LogMel().to(device)
    heads = None
    if teacher is not None:
        from model.training.distill import HEAD_WEIGHT, BlockHeads, merge_pairs

        heads = BlockHeads.for_teacher().to(device)
    trained = [*network.parameters(), *(heads.parameters() if heads is not None else ())]
    optimizer = torch.optim.Adam(trained, lr=config.lr)
    schedule = {"bad_epochs": 0, "reductions": 0, "best_val_loss": math.inf, "best_epoch": -1}
    epoch, start_step, history, before = 0, 0, [], {}
    scaler = torch.amp.GradScaler(device.type, enabled=amp_dtype == torch.float16)
    last_path, best_path = workdir / "last.pt", workdir / "best.pt"
    validation = ValidationSet(labels, val_rows, cache, [position[r] for r in val_rows], config)

    def embed(waves: torch.Tensor) -> torch.Tensor:
        with torch.autocast(device.type, dtype=amp_dtype or torch.float32, enabled=amp_dtype is not None):
            return network(logmel(waves.to(device, non_blocking=True))).float()

    def checkpoint(epoch_: int, step_: int) -> dict:
        return {
            "version": CHECKPOINT_VERSION, "dims": asdict(dims), "state_dict": network.state_dict(),
            "optimizer": optimizer.state_dict(), "scheduler": dict(schedule), "epoch": epoch_,
            "step": step_, "config": asdict(config), "history": list(history),
            "before": before, "best": schedule["best_val_loss"], "data_key": data_key,
            "heads": heads.state_dict() if heads is not None else {},
        }  # fmt: skip

    data_key = cache_key([labels[i].path for i in rows], config.max_seconds)
    if resume and last_path.exists():
        state = torch.load(last_path, map_location=device, weights_only=True)
        added = load_grown(network, state["state_dict"])
        if heads is not None and state.get("heads"):
            heads.load_state_dict(state["heads"])
        elif heads is not None:
            added.append("heads")  # distillation starts on a network trained without it
        schedule.update(state["scheduler"])
        epoch, start_step, history, before = state["epoch"], state["step"], state["history"], state["before"]
        message = f"resumed from {last_path} (epoch {epoch}, step {start_step})"
        # A new stage keeps the weights but restarts the schedule (old validation losses are
        # not comparable) when the data changed (more clips rendered since) or the network
        # grew (e.g. the tempo branch); a grown network also restarts Adam, whose moments are
        # per parameter, and its new parts start as initialised.
        if added:
            message += f"; new network parts {sorted({k.split('.')[0] for k in added})}: new stage"
        else:
            optimizer.load_state_dict(state["optimizer"])
        data_changed = state.get("data_key") != data_key
        if data_changed:
            message += "; the data changed: new stage (best loss and patience reset)"
        if added or data_changed:
            schedule.update(best_val_loss=math.inf, bad_epochs=0, early_stopped=False)
            start_step = 0
        yield TrainProgress("train", epoch, start_step, 0, message=message)
    else:
        yield TrainProgress("validate", 0, 0, 0, message="validating the starting model")
        network.eval()
        before_loss, before = validation.evaluate(embed, config)
        before = {**before, "loss": before_loss}

    # 4.-5. epochs
    augment = Augment() if config.mode == "label-free" else Production() if config.production else None
    train_cache_index = [position[r] for r in train_rows]
    steps = config.steps_per_epoch or max(1, math.ceil(len(train_rows) / config.tracks_per_batch))
    stopped = bool(schedule.get("early_stopped"))  # a finished run stays finished on resume
    while epoch < config.max_epochs and not stopped:
        batches = PairBatches(cache, train_rows, train_cache_index, config.tracks_per_batch, steps,
                              config.seed, epoch, augment, start_step, stretch=config.stretch,
                              weights=teacher_weights(teacher, train_rows, config.teacher_share))
        loader = torch.utils.data.DataLoader(batches, batch_size=None, shuffle=False, num_workers=config.num_workers,
                                             pin_memory=device.type == "cuda")  # page-locked batches: async copies
        network.train()
        t0, losses = time.perf_counter(), []
        for i, batch in enumerate(loader):
            step = start_step + i
            embeddings = embed(batch["waves"])
            track_ids = batch["track_ids"].to(device)
            if config.mode == "triplet":
                rows_, ids_ = batch["rows"].numpy(), batch["track_ids"].numpy()
                pos, neg = pair_matrices(arrays, rows_, ids_, batch["stretched"].numpy())
                if teacher is not None:
                    pos, neg = merge_pairs((pos, neg), teacher.pair_matrices(rows_, ids_))
                loss, _parts = csn_loss(embeddings, torch.from_numpy(pos).to(device), torch.from_numpy(neg).to(device),
                                        track_ids, config.margin, config.track_weight)  # fmt: skip
                if heads is not None and teacher is not None:
                    known = torch.from_numpy(teacher.known[rows_]).to(device)
                    loss = loss + HEAD_WEIGHT * heads.loss(embeddings, teacher.batch_targets(rows_), known)
            else:
                loss = nt_xent(embeddings[0::2], embeddings[1::2], config.temperature)
                loss = loss + config.track_weight * track_triplet_loss(embeddings, track_ids, config.margin)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            losses.append(float(loss.detach()))
            rate = (i + 1) / (time.perf_counter() - t0)
            yield TrainProgress("train", epoch, step + 1, steps, loss=float(np.mean(losses[-20:])),
                                lr=optimizer.param_groups[0]["lr"], rate=rate, eta_s=(steps - step - 1) / rate)  # fmt: skip
            if config.checkpoint_every and (step + 1) % config.checkpoint_every == 0 and step + 1 < steps:
                save_checkpoint(last_path, checkpoint(epoch, step + 1))
        start_step = 0

        yield TrainProgress("validate", epoch, steps, steps, lr=optimizer.param_groups[0]["lr"], message="validating")
        network.eval()
        val_loss, accuracy = validation.evaluate(embed, config)
        epoch += 1
        history.append({"epoch": epoch, "train_loss": float(np.mean(losses)) if losses else None,
                        "val_loss": val_loss, "val_accuracy": accuracy, "lr": optimizer.param_groups[0]["lr"]})  # fmt: skip
        improved = val_loss < schedule["best_val_loss"] - 1e-6
        if improved:
            schedule.update(best_val_loss=val_loss, best_epoch=epoch, bad_epochs=0)
        else:
            schedule["bad_epochs"] += 1
            if schedule["bad_epochs"] >= config.patience:
                if schedule["reductions"] >= config.max_reductions:
                    stopped = schedule["early_stopped"] = True  # lr already divided max_reductions times
                else:
                    schedule["reductions"] += 1
                    schedule["bad_epochs"] = 0
                    for group in optimizer.param_groups:
                        group["lr"] /= config.lr_divisor
        out_of_time = bool(config.max_minutes) and time.time() - started > 60 * config.max_minutes
        stopped = stopped or out_of_time
        state = checkpoint(epoch, 0)
        save_checkpoint(last_path, state)
        if improved:
            save_checkpoint(best_path, state)
        yield TrainProgress("validate", epoch, steps, steps, loss=history[-1]["train_loss"], val_loss=val_loss,
                            val_accuracy=accuracy, lr=optimizer.param_groups[0]["lr"],
                            message=("time budget used up" if out_of_time else "early stop") if stopped
                            else ("best so far" if improved else ""))  # fmt: skip

    # 6. the best weights, with a card
    best = best_state(workdir)
    assert best is not None  # every epoch checkpoints
    after = state_accuracy(best)
    card = {
        "data": data_description or f"{len(train_rows)} training / {len(val_rows)} validation tracks",
        "mode": config.mode, "epochs": epoch, "best_epoch": best["epoch"],
        "training_time_s": round(time.time() - started, 1), "hardware": hardware_description(device),
        "init_model": str(init_model) if init_model else None, "config": asdict(config),
        "validation_before": before, "validation_after": after, "history": history,
    }  # fmt: skip
    if output is not None:
        save_state_as_model(best, Path(output), card)
    yield TrainProgress("done", epoch, 0, steps, val_accuracy=after, message=f"best epoch {best['epoch']}")
    return TrainResult(Path(output) if output else None, best_path, epoch, schedule["best_val_loss"], before, after, card)


def teacher_weights(teacher: TeacherTargets | None, rows: Sequence[int], share: float | None) -> np.ndarray | None:
    """Sampling weights that draw ``share`` of a batch, on average, from teacher-tagged rows.

    Teacher pairs form only between tagged tracks of one batch; drawn uniformly, a 16-track
    batch held about three of them (340 of 1929 training tracks), so few teacher triplets.
    """
    if teacher is None or share is None:
        return None
    tagged = teacher.known[np.asarray(rows)]
    if tagged.all() or not tagged.any():
        return None
    return np.where(tagged, share / tagged.mean(), (1 - share) / (1 - tagged.mean()))


def best_state(workdir: str | Path) -> dict | None:
    """The best epoch's training state (``best.pt``, else ``last.pt``), as ``fit`` writes it.

    None before the first checkpoint. The one reader of the training-state format outside
    ``fit`` (a cancelled fine-tune keeps its best epoch through it).
    """
    for name in ("best.pt", "last.pt"):
        path = Path(workdir) / name
        if path.exists():
            return torch.load(path, map_location="cpu", weights_only=True)
    return None


def state_accuracy(state: dict) -> dict[str, float]:
    """Validation accuracy (and loss) of the state's epoch; the starting model's before any."""
    epoch, history = int(state.get("epoch", 0)), state.get("history") or []
    if 0 < epoch <= len(history):
        return dict(history[epoch - 1]["val_accuracy"], loss=state["best"])
    return dict(state.get("before") or {})


def save_state_as_model(state: dict, output: Path, card: dict) -> None:
    """Write a training state's network as a model file (with ``card``) and its ONNX twin,
    which searches with it use instead of importing torch (model.export_onnx). A twin that
    cannot be written or does not embed as torch does is left out: the model file stays,
    and ``card["notes"]`` gets a line saying so (the trainer shows it)."""
    from model.checkpoint import save_model
    from model.export_onnx import export_checked

    dims = ModelDims.from_dict(state["dims"])
    network = CSNInception(dims)
    network.load_state_dict(state["state_dict"])
    save_model(output, network.eval(), dims, card)
    note = export_checked(output)
    if note:
        card["notes"] = [*card.get("notes", []), note]


def run_to_end(job: Generator[TrainProgress, None, TrainResult], on_progress=None) -> TrainResult:
    """Drive ``fit`` to completion (scripts, tests); ``on_progress`` sees every yield."""
    while True:
        try:
            progress = next(job)
        except StopIteration as done:
            return done.value
        if on_progress is not None:
            on_progress(progress)


def with_overrides(config: TrainConfig, **changes) -> TrainConfig:
    """``dataclasses.replace`` that ignores ``None`` values (CLI flags left unset)."""
    return replace(config, **{k: v for k, v in changes.items() if v is not None})
