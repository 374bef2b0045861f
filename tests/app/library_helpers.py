"""Helpers for the library tests: a random-init model file and a small synthetic music folder.

A random-init network still maps the same audio to the same vectors, which is all the
index/search tests need (a clip cut from a track must find that track at that offset).
"""

from __future__ import annotations

from pathlib import Path

from tests.model_files import make_model  # noqa: F401 - re-exported for the library tests
from tests.synth_audio import music_like, write_audio

WINDOW_S = 65536 / 22050


def make_library(root: Path, n: int = 5, seconds: float = 15.0) -> list[Path]:
    """``n`` tracks of different BPM, in nested folders, as WAV and FLAC."""
    paths = []
    for i in range(n):
        sub = root / ("rock" if i % 2 else "ambient/slow")
        suffix = ".flac" if i % 3 == 0 else ".wav"
        sub.mkdir(parents=True, exist_ok=True)
        path = write_audio(sub / f"track{i}{suffix}", music_like(seconds + 3 * i, seed=i, bpm=70 + 15 * i))
        paths.append(path)
    return paths
