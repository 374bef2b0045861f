"""Typed settings declared once, stored with QSettings (INI) in the platformdirs config dir.

``setting/*`` keys are user preferences (library folders, model, devices); ``persist/*``
keys are UI state (geometry, splitters, last slider values, last folder) — kept apart so
"reset preferences" never loses window layout and vice versa (Picard's options/persist
split). ``meta/schema_version`` plus ``migrate`` upgrade older files in place.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from app import APP_NAME

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2


@dataclass(frozen=True)
class Option:
    key: str
    default: Any
    help: str = ""


OPTIONS: tuple[Option, ...] = (
    Option("setting/library_folders", (), "folders indexed into the library"),
    Option("setting/active_model", "", "path of the active model file ('' = shipped default)"),
    Option("setting/library_catalog", "", "the library's catalog: '' = library.db in the per-user "
           "data dir, a file path, or postgresql://USER@HOST/DB (a studio's shared catalog)"),
    Option("setting/catalog_sync_s", 30, "seconds between syncs with a shared (PostgreSQL) catalog, "
           "which brings other machines' new tracks into the next search"),
    Option("setting/compute_device", "auto", "auto, cpu or cuda for embedding and training"),
    Option("setting/audio_device", "", "output device name ('' = system default)"),
    Option("setting/top_k", 50, "how many results a search shows"),
    Option("setting/level_match", True, "play the query and every result at the same loudness"),
    Option("setting/demo_added", False, "the demo library was added on first launch"),
    Option("persist/geometry", b"", "main window geometry"),
    Option("persist/window_state", b"", "main window state"),
    Option("persist/splitter", b"", "query/results splitter"),
    Option("persist/weights", "genre=0.5,mood=0.5,instrument=0.5,tempo=0.5", "last slider values"),
    Option("persist/last_dialog_dir", "", "folder the last file dialog picked something in"),
    Option("persist/map_dimension", "all", "dimension shown in the library map"),
)
_BY_KEY = {option.key: option for option in OPTIONS}


def config_dir() -> Path:
    override = os.environ.get("SOUNDALIKE_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def migrate(store: QSettings) -> None:
    """Bring an older settings file to SCHEMA_VERSION (each step documented)."""
    version = int(store.value("meta/schema_version", 0) or 0)
    if version < 2:
        # v1 kept folders under "library/folders" and slider values as four ints 0–100.
        old = store.value("library/folders")
        if old is not None:
            store.setValue("setting/library_folders", json.dumps(list(_as_list(old))))
            store.remove("library/folders")
        sliders = [store.value(f"sliders/{n}") for n in ("genre", "mood", "instrument", "tempo")]
        if all(v is not None for v in sliders):
            text = ",".join(
                f"{n}={int(v) / 100:g}" for n, v in zip(("genre", "mood", "instrument", "tempo"), sliders, strict=False)
            )
            store.setValue("persist/weights", text)
            store.remove("sliders")
    store.setValue("meta/schema_version", SCHEMA_VERSION)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, str):
        try:
            loaded = json.loads(value)
        except ValueError:
            return [value] if value else []
        return [str(v) for v in loaded] if isinstance(loaded, list) else []
    return [str(v) for v in (value or [])]


class Settings:
    """Typed access: ``settings.get("setting/top_k") -> int``; unknown keys raise KeyError."""

    def __init__(self, path: Path | None = None) -> None:
        path = path or config_dir() / f"{APP_NAME}.ini"
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._store = QSettings(str(path), QSettings.Format.IniFormat)
        migrate(self._store)

    def get(self, key: str) -> Any:
        option = _BY_KEY[key]
        raw = self._store.value(key)
        if raw is None:
            return option.default
        default = option.default
        try:
            if isinstance(default, bool):
                return raw in (True, "true", "1", 1)
            if isinstance(default, int):
                return int(raw)
            if isinstance(default, tuple):
                return tuple(_as_list(raw))
            if isinstance(default, bytes):
                return bytes(raw.data()) if isinstance(raw, QByteArray) else bytes(raw)
            return str(raw)
        except (TypeError, ValueError):
            log.warning("setting %s has a bad value %r; using the default", key, raw)
            return default

    def set(self, key: str, value: Any) -> None:
        option = _BY_KEY[key]
        if isinstance(option.default, tuple):
            value = json.dumps([str(v) for v in value])
        elif isinstance(option.default, bytes):
            value = QByteArray(bytes(value))
        self._store.setValue(key, value)

    def sync(self) -> None:
        self._store.sync()
