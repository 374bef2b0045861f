"""Fetch a Debian package's audio without installing it: ``apt-get download`` + ``dpkg-deb``.

Why not ``apt-get install``: game data packages (0ad-data, supertuxkart-data, ...) pull in
their engines and libraries, need root and a dpkg lock shared with everyone on the machine,
and leave the system changed. A downloaded ``.deb`` is unpacked instead, keeping only the
audio files, the archives that may hold audio (.pk3/.zip) and the copyright files. Both
steps are resumable and atomic: the ``.deb`` lands in the cache under its final name only
once complete, and the unpacked tree is renamed into place only once whole, so re-running
never downloads or unpacks twice.

The held-out packages (:data:`HELD_OUT_PACKAGES`, kept for the held-out evaluation) are
refused here, before anything is downloaded, in any form: every package of those games.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path, PurePosixPath

HELD_OUT_PACKAGES = ("hyperrogue-music", "singularity-music", "planetblupi-music-ogg",
                     "drascula-music")
HELD_OUT_GAMES = ("hyperrogue", "singularity", "planetblupi", "drascula")  # and their siblings
AUDIO_SUFFIXES = (".ogg", ".oga", ".opus", ".wav", ".flac", ".mp3",
                  ".mod", ".xm", ".it", ".s3m")  # trackers: ffmpeg renders them (libopenmpt)
ARCHIVE_SUFFIXES = (".pk3", ".zip")


class HeldOutPackageError(ValueError):
    """A package of a game whose music is kept for the held-out evaluation was asked for."""


def is_held_out(package: str) -> bool:
    """Whether ``package`` belongs to a held-out game (its music, MIDI or data package)."""
    return any(package == game or package.startswith(f"{game}-") for game in HELD_OUT_GAMES)


def refuse_held_out(package: str) -> None:
    if is_held_out(package):
        raise HeldOutPackageError(f"{package} is held out for evaluation: never collected")


def fetch(package: str, cache: Path) -> Path:
    """The package's ``.deb`` in ``cache``, downloaded by ``apt-get download`` if missing."""
    refuse_held_out(package)
    found = sorted(cache.glob(f"{package}_*.deb"))
    if found:
        return found[-1]
    partial = cache / f".{package}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    subprocess.run(["apt-get", "download", "-qq", "-o", "APT::Sandbox::User=root", package],
                   cwd=partial, check=True)
    (deb,) = partial.glob("*.deb")
    target = cache / deb.name
    os.replace(deb, target)
    partial.rmdir()
    return target


def wanted(member: str) -> bool:
    """Keep audio, archives that may hold audio, and copyright files from a package."""
    lower = member.lower()
    return lower.endswith(AUDIO_SUFFIXES + ARCHIVE_SUFFIXES) or (
        lower.startswith("usr/share/doc/") and lower.endswith("/copyright"))


def unpack(deb: Path, dest: Path) -> Path:
    """Unpack the :func:`wanted` files of ``deb`` into ``dest`` (skipped when it exists)."""
    if dest.is_dir():
        return dest
    partial = dest.with_name(f".{dest.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    proc = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
        for member in tar:
            name = PurePosixPath(member.name.removeprefix("./"))
            if not member.isfile() or ".." in name.parts or not wanted(str(name)):
                continue
            target = partial.joinpath(*name.parts)
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            assert source is not None
            with open(target, "wb") as out:
                shutil.copyfileobj(source, out, 1 << 20)
    if proc.wait() != 0:
        raise subprocess.CalledProcessError(proc.returncode, f"dpkg-deb --fsys-tarfile {deb}")
    partial.mkdir(exist_ok=True)  # a package without audio still counts as unpacked
    os.replace(partial, dest)
    return dest


def copyright_text(tree: Path, package: str) -> str:
    """The package's ``/usr/share/doc/<package>/copyright`` from its unpacked tree, or ''."""
    path = tree / "usr" / "share" / "doc" / package / "copyright"
    return path.read_text(encoding="utf-8", errors="replace") if path.is_file() else ""
