"""A throw-away first-launch home for scripts that start the real app (screenshots, GUI bench).

The app reads its data and config dirs (and the model) from environment variables, so
pointing them at a new temporary folder gives a clean first launch without touching the
user's own library. Must run before the app's modules are imported.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


def fresh_home(prefix: str, model: str | None = None, null_audio: bool = False) -> Path:
    """Create the temporary home, point the app at it and return it.

    ``null_audio`` routes PortAudio to ALSA's null sink (via ``$HOME/.asoundrc``, read when
    sounddevice loads), so a machine without a sound card still shows working playback.
    """
    home = Path(tempfile.mkdtemp(prefix=prefix))
    os.environ["SOUNDALIKE_DATA_DIR"] = str(home / "data")
    os.environ["SOUNDALIKE_CONFIG_DIR"] = str(home / "config")
    if model:
        os.environ["SOUNDALIKE_MODEL"] = str(Path(model).resolve())
    if null_audio:
        (home / ".asoundrc").write_text("pcm.!default { type null }\n")
        os.environ["HOME"] = str(home)
    return home
