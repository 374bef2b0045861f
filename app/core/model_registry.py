"""Which models exist and which one is active: the shipped default plus the user's own.

The shipped model (resources/models/default.pt) is read-only: fine-tuned models are
written to ``<user data dir>/models/`` and the shipped file is never overwritten. A
model's card is read from a JSON sidecar (``<name>.card.json``) when one exists, so
listing models does not need torch; model ids are the checkpoint's sha256 (16 hex),
the same id the catalog records (model/checkpoint.py).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from app import APP_NAME
from app.core.resources import DEFAULT_MODEL_PARTS, MODEL_ENV, resource_path
from model.atomic import write_text_atomic

SHIPPED_MODELS_DIR = resource_path("models")  # checkout or PyInstaller bundle
DEFAULT_MODEL = resource_path(*DEFAULT_MODEL_PARTS)
DEMO_LIBRARY = resource_path("demo")
MODEL_SUFFIX = ".pt"


def user_data_dir() -> Path:
    """Per-user data dir (platformdirs); ``SOUNDALIKE_DATA_DIR`` overrides it (tests, portable use)."""
    override = os.environ.get("SOUNDALIKE_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def user_models_dir() -> Path:
    return user_data_dir() / "models"


@dataclass(frozen=True)
class ModelEntry:
    path: Path
    name: str
    shipped: bool
    card: dict[str, object] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return f"{self.name} (shipped)" if self.shipped else self.name


def _card(path: Path) -> dict[str, object]:
    sidecar = path.with_suffix(".card.json")
    try:
        return json.loads(sidecar.read_text()) if sidecar.exists() else {}
    except (OSError, ValueError):
        return {}


def list_models(user_dir: Path | None = None, shipped_dir: Path | None = None) -> list[ModelEntry]:
    """Shipped models first, then the user's, each sorted by name."""
    entries: list[ModelEntry] = []
    shipped_dir = shipped_dir or SHIPPED_MODELS_DIR  # read at call time (tests point it elsewhere)
    for directory, shipped in ((shipped_dir, True), (user_dir or user_models_dir(), False)):
        if directory.is_dir():
            for path in sorted(directory.glob(f"*{MODEL_SUFFIX}")):
                entries.append(ModelEntry(path, path.stem, shipped, _card(path)))
    return entries


class ModelChoiceError(Exception):
    """The model asked for cannot be used; ``str(e)`` is one line that says what to pass."""


def _entry(path: Path) -> ModelEntry:
    shipped = path.resolve().parent == SHIPPED_MODELS_DIR.resolve()
    return ModelEntry(path, path.stem, shipped, _card(path))


def resolve_model(
    explicit: str | os.PathLike[str] | None = None,
    saved: str = "",
    indexed: Sequence[str] = (),
    hints: Mapping[str, str] | None = None,
    user_dir: Path | None = None,
    strict: bool = True,
    identify: Callable[[Path], str] | None = None,
) -> ModelEntry | None:
    """The one model choice of the CLI and the app, first match wins:

    1. ``explicit``: the CLI's ``--model``;
    2. ``$SOUNDALIKE_MODEL`` (either of these not being a file raises ``ModelChoiceError``,
       or with ``strict=False``, as the app uses it, is skipped);
    3. ``saved``: the app's active-model setting (the user's last choice in the app);
    4. the model that indexed the library: ``indexed`` ids (most vectors first), found via
       ``hints`` (id -> path, recorded by the indexer) or among the installed models, by
       ``identify`` (``model.model_id.model_id_of``: passed in, because the GUI's import
       graph must not reach ``model``);
    5. the shipped default, else the newest of the user's models.
    None means no trained model is installed: callers say so, never use a random network.
    """
    for given, source in ((explicit, ""), (os.environ.get(MODEL_ENV), f" (${MODEL_ENV})")):
        if given:
            path = Path(given).expanduser()
            if path.is_file():
                return _entry(path)
            if strict:
                raise ModelChoiceError(f"no model file at {path}{source}")
    models = list_models(user_dir)
    if saved and Path(saved).is_file():
        return next((e for e in models if str(e.path) == saved), None) or _entry(Path(saved))
    found = find_model(indexed, models, hints or {}, identify) if identify is not None else None
    if found is not None:
        return found
    for entry in models:
        if entry.path == DEFAULT_MODEL:
            return entry
    return models[-1] if models else None


def find_model(
    ids: Sequence[str], models: Sequence[ModelEntry], hints: Mapping[str, str],
    identify: Callable[[Path], str],
) -> ModelEntry | None:
    """The installed model file with one of ``ids`` (in that order), hinted paths first."""

    def has_id(path: Path, model_id: str) -> bool:
        try:
            return path.is_file() and identify(path) == model_id
        except OSError:
            return False

    for model_id in ids:
        hint = hints.get(model_id)
        if hint and has_id(Path(hint), model_id):
            return _entry(Path(hint))
    for model_id in ids:
        for entry in models:
            if has_id(entry.path, model_id):
                return entry
    return None


def training_dir(model_path: Path) -> Path:
    """Where the run that writes ``model_path`` keeps its checkpoints (resumable)."""
    return model_path.with_name(model_path.stem + ".training")


def new_user_model_path(stem: str, user_dir: Path | None = None) -> Path:
    """A fresh path under the user's models dir (never inside resources/)."""
    directory = user_dir or user_models_dir()
    directory.mkdir(parents=True, exist_ok=True)
    candidate = directory / f"{stem}{MODEL_SUFFIX}"
    n = 2
    # a checkpoint folder left by an interrupted run reserves its name too (it can be resumed)
    while candidate.exists() or training_dir(candidate).exists():
        candidate = directory / f"{stem}-{n}{MODEL_SUFFIX}"
        n += 1
    return candidate


def write_card(model_path: Path, card: dict[str, object]) -> Path:
    """Save a model's card as a JSON sidecar (atomic), so listings need no torch."""
    sidecar = model_path.with_suffix(".card.json")
    write_text_atomic(sidecar, json.dumps(card, indent=2, default=str))
    return sidecar
