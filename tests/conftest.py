"""Shared fixtures: synthesised audio written to tmp_path (tests never read the network)."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
