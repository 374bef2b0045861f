"""Collect the free music that Debian packages ship into ``data/real/`` with a manifest.

    python -m model.corpus.real_music --out data/real [--debs data/debs] [--tempo]

For every package of :data:`PACKAGES` (music packs and game data packages), the ``.deb`` is
downloaded and unpacked without installing it (:mod:`model.corpus.debian`; the held-out
packages are refused there). Its music files, Ogg/Opus/MP3/WAV/FLAC and tracker modules,
loose or inside ``.pk3``/``.zip`` archives, are converted one at a time with ffmpeg to
22 050 Hz mono FLAC in ``out/<package>/``. In data packages only files under a music
folder count (:data:`MUSIC_DIRS`); shorter than :data:`MIN_SECONDS` is a jingle or a sound
effect and is left out; a byte-identical file seen before is a duplicate and is skipped.

``manifest.csv`` (``path,source,licence,duration,split,bpm,sample_rate,channels``) has one row
per track: ``path`` relative to the manifest, ``source`` the Debian package, ``licence`` the
short name from the package's copyright file (:mod:`model.corpus.licences`), ``duration`` in
seconds, ``sample_rate`` and ``channels`` of the source file. It is rewritten atomically after
every package, so readers can use it while it grows. ``bpm`` comes from librosa's beat
tracker with ``--tempo``: a last pass over the tracks that have none, because it is slow.

Splits are by package, so no val/test track shares a game, a composer's set or a mix with
training: the packages in :data:`VAL_PACKAGES` are ``val``, those in :data:`TEST_PACKAGES`
are ``test``, every other one is ``train``. Re-running skips finished tracks, keeps earlier
tempo estimates and never downloads or unpacks a package twice.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import soundfile as sf

from model.corpus.debian import (
    ARCHIVE_SUFFIXES,
    AUDIO_SUFFIXES,
    copyright_text,
    fetch,
    refuse_held_out,
    unpack,
)
from model.corpus.licences import licence_for

MIN_SECONDS = 20.0  # jingles and stingers are too short for track triplets
MUSIC_DIRS = r"(?i)/(music|musics|songs?|soundtracks?)/"  # where game data packages keep music
FIELDS = ("path", "source", "licence", "duration", "split", "bpm", "sample_rate", "channels")


@dataclass(frozen=True)
class Package:
    """A Debian package with music; ``music`` is a regex that a music file's path matches."""

    name: str
    music: str = MUSIC_DIRS


_ABA = r"/sounds/(musics/)?[^/]+\.ogg$"  # ABA Games keep music beside .wav sound effects
_LOOSE = r"/sounds/[^/]+\.(ogg|mod)$"  # music among short effects (MIN_SECONDS tells them apart)
_TOP_OGG = r"/games/[^/]+/(data/)?[^/]+\.ogg$"  # music loose in the game's own folder


def _pack(name: str) -> Package:
    return Package(name, music="")  # a music pack: every audio file is music


# Checked and left out: lincity-ng-data, boswars-data, chromium-bsu-data, tuxfootball,
# endless-sky-data (sound effects only), neverball-data, armagetronad-common, teeworlds-data
# (no audio), xblast-tnt-musics (headerless .raw PCM), openarena-data, openarena-081-misc,
# nexuiz-data, trigger-rally-data (no music in their archives), openarena-088-data (9 minutes),
# fretsonfire-songs-* (stems: guitar apart from the band), openttd-openmsx (MIDI: a soundfont
# render is not a recording). The held-out games' packages,
# planetblupi-music-midi included, are refused by model.corpus.debian.
PACKAGES: tuple[Package, ...] = (  # the order of work: cheap unpacks first, big .debs last
    _pack("wesnoth-1.16-music"), _pack("warzone2100-music"), _pack("nexuiz-music"),
    _pack("ufoai-music"), _pack("asc-music"), _pack("fb-music-high"),
    Package("naev-data"), Package("supertuxkart-data"), Package("supertux-data"),
    Package("hedgewars-data"), Package("widelands-data"), Package("freedroidrpg-data"),
    Package("flare-game"), Package("freecol"), Package("marsshooter-data"),
    Package("starfighter-data"), Package("colobot-common-sounds"), Package("fillets-ng-data"),
    Package("pushover-data", music=r"/themes/[^/]+\.ogg$"), _pack("heroes-sound-tracks"),
    Package("extremetuxracer-data"), Package("pingus-data"),
    Package("warmux-data"), Package("xmoto-data"), Package("enigma-data"),
    Package("lordsawar-data"), Package("pathological"), Package("scorched3d-data"),
    Package("btanks-data", music=r"/data/tunes/"), Package("zaz-data", music=r"/zaz/[^/]+\.ogg$"),
    Package("frozen-bubble-data", music=r"/snd/[^/]+\.ogg$"), Package("amoebax-data"),
    Package("tecnoballz-data"), Package("tomatoes-data"), Package("circuslinux-data"),
    Package("pachi-data"), Package("raincat-data"), Package("solarwolf"),
    Package("val-and-rick-data"),
    *(Package(f"{game}-data", music=_ABA) for game in (
        "mu-cade", "noiz2sa", "parsec47", "rrootage", "torus-trooper", "tumiki-fighters",
        "gunroar", "titanion", "a7xpg")),
    Package("ardentryst"), Package("freedink-data", music=r"/dink/Sound/[^/]+\.ogg$"),
    Package("tuxmath-data", music=_LOOSE), Package("tuxtype-data", music=_LOOSE),
    _pack("wordwarvi-sound"), Package("freeorion-data", music=r"/data/sound/[^/]+\.ogg$"),
    Package("lugaru-data", music=r"/Sounds/[^/]+\.ogg$"), Package("funnyboat", music=_TOP_OGG),
    Package("abe-data", music=_LOOSE), Package("toppler", music=_TOP_OGG),
    *(Package(name, music=r"\.(mod|xm|it|s3m)$") for name in (
        "ri-li-data", "njam-data", "open-invaders-data", "bomberclone-data", "ceferino-data",
        "monsterz-data")),
    Package("openclonk-data", music=r"(?i)/music\.ocg/"),
    Package("megaglest-data"), Package("berusky2-data"), Package("0ad-data"),
    Package("torcs-data"), Package("redeclipse-data"),
)
# Whole packages, chosen by hand for a spread of styles: val 4.9 h (electronic and ambient RTS
# score, orchestral fantasy, colonial classical), test 5.9 h (orchestral/ambient/electronic
# strategy score, chiptune-like platformer, light racing music); train is the other ~25-35 h.
VAL_PACKAGES = ("warzone2100-music", "flare-game", "freecol")
TEST_PACKAGES = ("ufoai-music", "supertux-data", "extremetuxracer-data")


def split_of(package: str) -> str:
    """The split of every track of ``package`` (whole packages go to val and test)."""
    return "val" if package in VAL_PACKAGES else "test" if package in TEST_PACKAGES else "train"


@dataclass(frozen=True)
class Source:
    """One music file: a file in the unpacked tree, or a ``member`` of an archive there."""

    file: Path
    name: str  # path as installed (``usr/share/...``), ``/member`` appended for archive members
    member: str = ""

    def read(self) -> bytes:
        if not self.member:
            return self.file.read_bytes()
        with zipfile.ZipFile(self.file) as archive:
            return archive.read(self.member)


def find_sources(tree: Path, music: str) -> list[Source]:
    """The package's audio files (and archive members) whose installed path matches ``music``."""
    sources = []
    for file in sorted(p for p in tree.rglob("*") if p.is_file()):
        installed = file.relative_to(tree).as_posix()
        if file.suffix.lower() in ARCHIVE_SUFFIXES:
            with zipfile.ZipFile(file) as archive:
                members = sorted(archive.namelist())
            sources += [Source(file, f"{installed}/{m}", m) for m in members
                        if m.lower().endswith(AUDIO_SUFFIXES) and re.search(music, f"/{m}")]
        elif file.suffix.lower() in AUDIO_SUFFIXES and re.search(music, f"/{installed}"):
            sources.append(Source(file, installed))
    return sources


def target_names(sources: list[Source]) -> dict[str, str]:
    """``source name -> file name``: the safe stem, plus a short hash when stems collide."""
    stems = [_safe(Path(s.name).stem) for s in sources]
    return {s.name: (stem if stems.count(stem) == 1 else
                     f"{stem}-{hashlib.sha1(s.name.encode()).hexdigest()[:6]}") + ".flac"
            for s, stem in zip(sources, stems, strict=True)}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def probe(path: Path) -> tuple[float | None, str, str]:
    """``(duration or None, sample_rate, channels)`` of a source file, by ffprobe."""
    proc = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
                           "stream=sample_rate,channels:format=duration", "-of", "json",
                           str(path)], capture_output=True, text=True, check=False)
    info = json.loads(proc.stdout or "{}")
    stream = (info.get("streams") or [{}])[0]
    duration = info.get("format", {}).get("duration")
    return (float(duration) if duration not in (None, "N/A") else None,
            str(stream.get("sample_rate", "")), str(stream.get("channels", "")))


def convert(source: Path, target: Path) -> None:
    """Decode anything ffmpeg reads to 22.05 kHz mono FLAC, atomically (one thread).

    FLAC, not Vorbis: on a shared 2-core machine the Vorbis encoder was three quarters of the
    conversion's CPU time (1.39 s against 0.48 s of CPU for 318 s of music); the price is
    disk, about 170 MB per hour of music."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.stem}.part{target.suffix}")
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-threads", "1", "-i", str(source),
                    "-vn", "-ac", "1", "-ar", "22050", "-c:a", "flac", str(tmp)], check=True)
    os.replace(tmp, target)


def collect_package(out: Path, package: str, sources: list[Source], copyright: str,
                    old: dict[str, dict[str, str]], seen: set[str]) -> Iterator[dict[str, str]]:
    """Convert ``sources`` into ``out/package/``; yield manifest rows for the music tracks.

    ``old`` (earlier manifest rows by path) spares re-probing finished tracks; ``seen`` holds
    the content hashes of every source so far, across packages, to skip duplicates."""
    names = target_names(sources)
    for source in sources:
        data = source.read()
        digest = hashlib.sha1(data).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        target = out / package / names[source.name]
        rel = target.relative_to(out).as_posix()
        row = old.get(rel)
        if not (target.exists() and row and row.get("sample_rate")):
            row = _convert_and_describe(data, source, target)
            if row is None:
                continue
        if float(row["duration"]) >= MIN_SECONDS:
            yield {**row, "path": rel, "source": package, "split": split_of(package),
                   "licence": licence_for(copyright, source.name)}


def _convert_and_describe(data: bytes, source: Source, target: Path) -> dict[str, str] | None:
    """Convert unless too short or not audio after all (a name such as ``language.It``; logged);
    the row's duration, source rate and channels, or None."""
    with tempfile.TemporaryDirectory() as tmp:
        file = source.file
        if source.member:
            file = Path(tmp) / _safe(Path(source.member).name)
            file.write_bytes(data)
        duration, rate, channels = probe(file)
        if not rate:
            log(f"{source.name}: no audio stream, skipped")
            return None
        if duration is not None and duration < MIN_SECONDS:
            return None
        if not target.exists():
            convert(file, target)
    duration = sf.info(str(target)).duration
    return {"duration": f"{duration:.2f}", "bpm": "", "sample_rate": rate, "channels": channels}


def estimate_tempo(path: Path, duration: float) -> str:
    """librosa's beat tracker on 30 s from the middle of the track (no intro; cheap: the
    tracks are already 22.05 kHz mono, so nothing is resampled)."""
    import librosa  # only with --tempo
    import numpy as np

    offset = max(0.0, duration / 2 - 15.0)
    audio, rate = librosa.load(path, sr=22050, mono=True, offset=offset, duration=30.0)
    bpm, _ = librosa.beat.beat_track(y=audio, sr=rate)
    return f"{float(np.atleast_1d(bpm)[0]):.1f}"


def read_manifest(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def write_manifest(out: Path, rows: list[dict[str, str]]) -> None:
    """Write ``out/manifest.csv`` atomically (readers never see half a file)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=FIELDS, lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: r.get(k, "") for k in FIELDS} for r in rows)
    tmp = out / ".manifest.csv.part"
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, out / "manifest.csv")


def summary(rows: list[dict[str, str]]) -> str:
    """Hours, tracks, split and licences per package, then hours per split."""
    lines, split_hours = [], {}
    for package in dict.fromkeys(r["source"] for r in rows):
        mine = [r for r in rows if r["source"] == package]
        hours = sum(float(r["duration"]) for r in mine) / 3600
        licences = ", ".join(sorted({r["licence"] for r in mine}))
        lines.append(f"{package:24} {hours:6.2f} h {len(mine):4d} tracks {mine[0]['split']:5} "
                     f"{licences}")
        split_hours[mine[0]["split"]] = split_hours.get(mine[0]["split"], 0.0) + hours
    total = sum(split_hours.values())
    lines.append(f"total {total:.2f} h, {len(rows)} tracks, {len(split_hours)} splits: " + ", ".join(
        f"{s} {h:.2f} h" for s, h in sorted(split_hours.items())))
    return "\n".join(lines)


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] real_music: {message}", file=sys.stderr, flush=True)


def collect(out: Path, debs: Path, packages: tuple[Package, ...]) -> list[dict[str, str]]:
    """Every package in turn; the manifest is refreshed after each (old rows kept meanwhile)."""
    for package in packages:
        refuse_held_out(package.name)
    out.mkdir(parents=True, exist_ok=True)
    old_rows = read_manifest(out / "manifest.csv")
    old = {r["path"]: r for r in old_rows}
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for i, package in enumerate(packages):
        start = time.monotonic()
        try:
            tree = unpack(fetch(package.name, debs), debs / package.name)
        except subprocess.CalledProcessError as error:  # e.g. gone from the archive
            log(f"{package.name}: skipped, earlier rows kept ({error})")
            rows += [r for r in old_rows if r["source"] == package.name]
            continue
        sources = find_sources(tree, package.music)
        text = copyright_text(tree, package.name)
        rows += list(collect_package(out, package.name, sources, text, old, seen))
        pending = {p.name for p in packages[i + 1:]}
        write_manifest(out, rows + [r for r in old_rows if r["source"] in pending])
        mine = [r for r in rows if r["source"] == package.name]
        log(f"{package.name}: {len(mine)} tracks, "
            f"{sum(float(r['duration']) for r in mine) / 3600:.2f} h of {len(sources)} music "
            f"files in {time.monotonic() - start:.0f} s")
    return rows


def add_tempo(out: Path, rows: list[dict[str, str]], every: int = 20) -> None:
    """Beat-tracker BPM for the rows without one; the manifest is rewritten every ``every``."""
    todo = [r for r in rows if not r.get("bpm")]
    for n, row in enumerate(todo, 1):
        row["bpm"] = estimate_tempo(out / row["path"], float(row["duration"]))
        if n % every == 0 or n == len(todo):
            write_manifest(out, rows)
            log(f"tempo {n}/{len(todo)}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.corpus.real_music",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("data/real"))
    parser.add_argument("--debs", type=Path, default=Path("data/debs"),
                        help="cache of downloaded .deb files and their unpacked audio")
    parser.add_argument("--packages", nargs="+", help="a subset of the package table")
    parser.add_argument("--tempo", action="store_true", help="add beat-tracker BPM (slow)")
    args = parser.parse_args(argv)
    for tool in ("ffmpeg", "ffprobe", "apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            log(f"{tool} is needed (ffmpeg: apt-get install ffmpeg)")
            return 2
    packages = PACKAGES
    if args.packages:
        known = {p.name: p for p in PACKAGES}
        packages = tuple(known.get(name, Package(name)) for name in args.packages)
    args.debs.mkdir(parents=True, exist_ok=True)
    start = time.monotonic()
    rows = collect(args.out, args.debs, packages)
    if args.tempo:
        add_tempo(args.out, rows)
    log(f"done in {time.monotonic() - start:.0f} s -> {args.out / 'manifest.csv'}\n"
        f"{summary(rows)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
