"""Log to a rotating file in the per-user data dir (tracebacks go there, never to the UI)."""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from app.core.model_registry import user_data_dir

LOG_NAME = "soundalike.log"


def log_path() -> Path:
    return user_data_dir() / "logs" / LOG_NAME


def setup_logging(level: int = logging.INFO) -> Path:
    """Attach one rotating file handler to the root logger (idempotent); returns the file."""
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    if not any(getattr(h, "soundalike", False) for h in root.handlers):
        handler = logging.handlers.RotatingFileHandler(path, maxBytes=2_000_000, backupCount=3)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        handler.soundalike = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(min(root.level or level, level))
    return path
