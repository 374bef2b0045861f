"""Find the audio files under some folders, surviving what real disks do to a walk.

Public API::

    scan(folders, problems=None) -> Iterator[ScannedFile]   # lazily, sorted within a folder
    AUDIO_EXTENSIONS

Handled, each without stopping the walk:
- symlink loops and a file reached twice through links: directories and files are keyed by
  ``(st_dev, st_ino)`` and visited once;
- hidden files and folders (name starting with ``.``) are skipped, as file managers do;
- folders or files we may not read: reported to ``problems`` and skipped;
- files that vanish between listing and ``stat``: silently dropped (they are gone);
- broken symlinks: skipped.
``problems`` is a list the caller passes in; it receives ``(path, reason)`` tuples.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

# What the decoder (libsndfile, else FFmpeg's decoders through PyAV: model.audio) opens; anything else is not audio.
AUDIO_EXTENSIONS = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .m4a .aac .mp4 .wma .caf .w64".split()
)


@dataclass(frozen=True)
class ScannedFile:
    path: str  # absolute, as reached (symlinks in the path are kept, not resolved)
    size: int
    mtime_ns: int
    fingerprint: str | None = None  # content (app.core.fingerprint), set by the index plan


def is_audio_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTENSIONS


def scan(
    folders: Iterable[str | os.PathLike[str]],
    problems: list[tuple[str, str]] | None = None,
) -> Iterator[ScannedFile]:
    """Yield every audio file under ``folders`` once (depth-first, names sorted)."""
    seen_dirs: set[tuple[int, int]] = set()
    seen_files: set[tuple[int, int]] = set()

    def report(path: str, reason: str) -> None:
        if problems is not None:
            problems.append((path, reason))

    for folder in folders:
        root = os.path.abspath(os.fspath(folder))
        try:
            info = os.stat(root)
        except OSError as exc:
            report(root, f"cannot open folder: {exc.strerror or exc}")
            continue
        if stat.S_ISREG(info.st_mode):  # a single file given as a "folder"
            if is_audio_name(root) and (info.st_dev, info.st_ino) not in seen_files:
                seen_files.add((info.st_dev, info.st_ino))
                yield ScannedFile(root, info.st_size, info.st_mtime_ns)
            continue
        stack = [(root, info)]
        while stack:
            directory, dir_info = stack.pop()
            key = (dir_info.st_dev, dir_info.st_ino)
            if key in seen_dirs:
                continue  # a symlink loop or a second link to the same folder
            seen_dirs.add(key)
            try:
                with os.scandir(directory) as entries:
                    listing = sorted(entries, key=lambda e: e.name)
            except OSError as exc:
                report(directory, f"cannot list folder: {exc.strerror or exc}")
                continue
            subdirs = []
            for entry in listing:
                if entry.name.startswith("."):
                    continue
                try:
                    entry_info = entry.stat(follow_symlinks=True)
                except FileNotFoundError:
                    continue  # vanished mid-scan, or a broken symlink
                except OSError as exc:
                    report(entry.path, f"cannot read: {exc.strerror or exc}")
                    continue
                if stat.S_ISDIR(entry_info.st_mode):
                    subdirs.append((entry.path, entry_info))
                elif stat.S_ISREG(entry_info.st_mode) and is_audio_name(entry.name):
                    file_key = (entry_info.st_dev, entry_info.st_ino)
                    if file_key in seen_files:
                        continue
                    seen_files.add(file_key)
                    if not os.access(entry.path, os.R_OK):
                        report(entry.path, "permission denied")
                        continue
                    yield ScannedFile(entry.path, entry_info.st_size, entry_info.st_mtime_ns)
            stack.extend(reversed(subdirs))  # visit subfolders in name order
