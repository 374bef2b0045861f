"""Where shipped files live, from a source checkout and from a frozen (PyInstaller) bundle.

One helper so every part finds ``resources/`` the same way: in a checkout it is the folder
next to ``app/``; in a PyInstaller bundle it is ``sys._MEIPASS/resources`` (build.spec must
collect it there).
"""

from __future__ import annotations

import sys
from pathlib import Path

DEFAULT_MODEL_PARTS = ("models", "default.pt")
MODEL_ENV = "SOUNDALIKE_MODEL"  # set to a model file to override the shipped default


def resource_root() -> Path:
    """The ``resources`` folder (it may not exist in a bare checkout)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if getattr(sys, "frozen", False) and bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def resource_path(*parts: str) -> Path:
    """Path of a shipped file, e.g. ``resource_path("models", "default.pt")``."""
    return resource_root().joinpath(*parts)
