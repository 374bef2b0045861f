"""Collect free game music from Debian packages into ``data/real/`` with a manifest.

    python -m model.synth.real_music --out data/real [--tempo] [--no-install]

Installs (as root, with apt-get) the music packages below, finds their audio files with
``dpkg -L`` (Ogg Vorbis, Opus, and Ogg inside the ``.pk3`` zip archives of Nexuiz and
UFO: AI), converts each to 22 050 Hz mono Ogg Vorbis with ffmpeg, and writes ``manifest.csv``:
``path,source,duration,split,bpm`` (path relative to the manifest; bpm from librosa's beat
tracker with ``--tempo``, else empty). The data is unlabelled real music for track triplets
and label-free training. Evaluation data never overlaps training: one whole package
(``HELDOUT_PACKAGE``) is ``test``, and a fixed hash of the track name sends 15 % of the
other packages' tracks to ``test`` and 10 % to ``val`` (:func:`assign_splits`). Re-running
skips finished tracks and never downloads twice (apt-get runs only for missing packages).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import soundfile as sf

PACKAGES = ("wesnoth-1.16-music", "warzone2100-music", "nexuiz-music", "ufoai-music")
HELDOUT_PACKAGE = "ufoai-music"
AUDIO_SUFFIXES = (".ogg", ".opus", ".wav", ".flac", ".mp3")
MIN_SECONDS = 20.0  # jingles and stingers are too short for track triplets


def installed(package: str) -> bool:
    proc = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True,
                          text=True, check=False)
    return "ok installed" in proc.stdout


def install(packages: tuple[str, ...]) -> None:
    """apt-get install the packages that are missing (root only; waits for the dpkg lock)."""
    missing = [p for p in packages if not installed(p)]
    if not missing:
        return
    if os.geteuid() != 0:
        raise SystemExit(f"real_music: run as root or: sudo apt-get install {' '.join(missing)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    print(f"real_music: installing {' '.join(missing)}", file=sys.stderr, flush=True)
    subprocess.run(["apt-get", "-o", "DPkg::Lock::Timeout=900", "install", "-y", "-qq",
                    "--no-install-recommends", *missing], check=True, env=env)


def package_files(package: str) -> list[Path]:
    proc = subprocess.run(["dpkg", "-L", package], capture_output=True, text=True, check=True)
    return sorted(Path(line) for line in proc.stdout.splitlines()
                  if line.lower().endswith((*AUDIO_SUFFIXES, ".pk3")) and Path(line).is_file())


def assign_splits(package: str, names: list[str]) -> dict[str, str]:
    """Deterministic splits: the held-out package is all test; in the others, tracks ordered
    by a stable hash of their name give the first 15 % to test and the next 10 % to val."""
    if package == HELDOUT_PACKAGE:
        return {name: "test" for name in names}
    order = sorted(names, key=lambda n: hashlib.sha1(f"{package}/{n}".encode()).hexdigest())
    n_test, n_val = round(0.15 * len(order)), round(0.10 * len(order))
    return {name: ("test" if i < n_test else "val" if i < n_test + n_val else "train")
            for i, name in enumerate(order)}


def convert(source: Path, target: Path) -> None:
    """Decode anything ffmpeg reads to 22.05 kHz mono Vorbis, atomically."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.part.ogg")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source), "-vn",
                    "-ac", "1", "-ar", "22050", "-c:a", "libvorbis", "-q:a", "3", str(tmp)],
                   check=True)
    os.replace(tmp, target)


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def collect(out: Path, packages: tuple[str, ...], tempo: bool) -> list[dict[str, str]]:
    """Convert every installed package's music; manifest rows for tracks >= MIN_SECONDS."""
    rows = []
    for package in packages:
        rows += collect_package(out, package, package_files(package), tempo)
        print(f"real_music: {package}: {len(rows)} tracks so far", file=sys.stderr, flush=True)
    return rows


def collect_package(out: Path, package: str, paths: list[Path],
                    tempo: bool) -> list[dict[str, str]]:
    """Convert ``paths`` (audio files or .pk3 zips of audio) into ``out/package/``."""
    rows = []
    for path in paths:
        if path.suffix.lower() == ".pk3":
            with zipfile.ZipFile(path) as archive, tempfile.TemporaryDirectory() as tmp:
                for member in sorted(archive.namelist()):
                    if not member.lower().endswith(AUDIO_SUFFIXES):
                        continue
                    target = out / package / f"{_safe(Path(member).stem)}.ogg"
                    if not target.exists():
                        extracted = Path(tmp) / _safe(Path(member).name)
                        extracted.write_bytes(archive.read(member))
                        convert(extracted, target)
                    rows.append(_row(out, package, target, tempo))
        else:
            target = out / package / f"{_safe(path.stem)}.ogg"
            if not target.exists():
                convert(path, target)
            rows.append(_row(out, package, target, tempo))
    rows = [r for r in rows if float(r["duration"]) >= MIN_SECONDS]
    splits = assign_splits(package, [r["path"] for r in rows])
    return [{**r, "split": splits[r["path"]]} for r in rows]


_TEMPO_CACHE: dict[str, str] = {}


def _row(out: Path, package: str, target: Path, tempo: bool) -> dict[str, str]:
    rel = target.relative_to(out).as_posix()
    duration = sf.info(str(target)).duration
    bpm = ""
    if tempo and duration >= MIN_SECONDS:
        bpm = _TEMPO_CACHE.get(rel) or _estimate_tempo(target, duration)
    return {"path": rel, "source": package, "duration": f"{duration:.2f}",
            "split": "", "bpm": bpm}


def _estimate_tempo(path: Path, duration: float) -> str:
    """librosa's beat tracker on up to 60 s from the middle of the track (skips intros)."""
    import librosa  # only with --tempo
    import numpy as np

    offset = max(0.0, min(10.0, duration - 60.0))
    audio, rate = librosa.load(path, sr=22050, mono=True, offset=offset, duration=60.0)
    bpm, _ = librosa.beat.beat_track(y=audio, sr=rate)
    return f"{float(np.atleast_1d(bpm)[0]):.1f}"


def write_manifest(out: Path, rows: list[dict[str, str]]) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=["path", "source", "duration", "split", "bpm"],
                            lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    tmp = out / ".manifest.csv.part"
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, out / "manifest.csv")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.synth.real_music",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/real"))
    parser.add_argument("--packages", nargs="+", default=list(PACKAGES))
    parser.add_argument("--tempo", action="store_true", help="add beat-tracker BPM estimates")
    parser.add_argument("--no-install", action="store_true", help="use installed packages only")
    args = parser.parse_args(argv)
    if shutil.which("ffmpeg") is None:
        print("real_music: ffmpeg is needed (apt-get install ffmpeg)", file=sys.stderr)
        return 2
    packages = tuple(args.packages)
    if args.no_install:
        packages = tuple(p for p in packages if installed(p))
    else:
        install(packages)
    args.out.mkdir(parents=True, exist_ok=True)
    old = args.out / "manifest.csv"
    if old.exists():  # keep earlier tempo estimates: the beat tracker is the slow part
        with open(old, encoding="utf-8") as f:
            _TEMPO_CACHE.update({r["path"]: r["bpm"] for r in csv.DictReader(f) if r["bpm"]})
    rows = collect(args.out, packages, args.tempo)
    write_manifest(args.out, rows)
    hours = sum(float(r["duration"]) for r in rows) / 3600
    by_split = {s: sum(r["split"] == s for r in rows) for s in ("train", "val", "test")}
    print(f"real_music: {len(rows)} tracks, {hours:.1f} h, splits {by_split} -> "
          f"{args.out / 'manifest.csv'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
