"""The real-music collector: held-out refusal, splits by package, .deb unpacking, archive
members, conversion and resuming, licences from copyright files, the atomic manifest.
Audio is synthesised with numpy; no network, no apt."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model.corpus import debian, real_music
from model.corpus.debian import HELD_OUT_PACKAGES, HeldOutPackageError, is_held_out, unpack
from model.corpus.licences import free_text_licence, licence_for
from model.corpus.real_music import (
    FIELDS,
    MUSIC_DIRS,
    PACKAGES,
    TEST_PACKAGES,
    VAL_PACKAGES,
    Package,
    collect,
    collect_package,
    find_sources,
    read_manifest,
    split_of,
    write_manifest,
)

RATE = 44100


def tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return (0.2 * np.sin(2 * np.pi * hz * t)).astype(np.float32)


def test_held_out_packages_are_refused_before_anything_is_fetched(tmp_path, monkeypatch):
    def no_subprocess(*args, **kwargs):
        raise AssertionError("a held-out package reached apt-get")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    for package in (*HELD_OUT_PACKAGES, "planetblupi-music-midi", "drascula", "hyperrogue"):
        assert is_held_out(package)
        with pytest.raises(HeldOutPackageError):
            debian.fetch(package, tmp_path)
        with pytest.raises(HeldOutPackageError):  # the whole run refuses, not just the package
            collect(tmp_path / "real", tmp_path, (Package("wesnoth-1.16-music"), Package(package)))
    assert not any(tmp_path.iterdir())
    assert not is_held_out("wesnoth-1.16-music") and not is_held_out("hyperrogue2")
    assert not any(is_held_out(p.name) for p in PACKAGES)


def test_splits_are_whole_packages_and_fixed():
    names = [p.name for p in PACKAGES]
    assert len(set(names)) == len(names) >= 15
    assert set(VAL_PACKAGES) <= set(names) and set(TEST_PACKAGES) <= set(names)
    assert not set(VAL_PACKAGES) & set(TEST_PACKAGES)
    splits = {name: split_of(name) for name in names}
    assert splits == {name: split_of(name) for name in reversed(names)}
    assert {n for n, s in splits.items() if s == "val"} == set(VAL_PACKAGES)
    assert {n for n, s in splits.items() if s == "test"} == set(TEST_PACKAGES)
    assert split_of("some-new-music") == "train"


def make_tree(root: Path) -> Path:
    """A package tree as unpacked: a loose theme, a sound effect, a jingle and a .pk3 whose
    music member duplicates nothing while a second member is a byte copy of the theme."""
    music = root / "usr/share/games/game/data/music"
    music.mkdir(parents=True)
    sf.write(music / "theme.ogg", np.stack([tone(2.5), tone(2.5)], axis=1), RATE)
    sf.write(music / "jingle.wav", tone(0.3), RATE)
    (music / "language.it").write_text("not a tracker module", encoding="utf-8")
    (root / "usr/share/games/game/sounds").mkdir(parents=True)
    sf.write(root / "usr/share/games/game/sounds/explosion.wav", tone(3, 440), RATE)
    sf.write(root / "inner.ogg", tone(2.2, 330), RATE)
    with zipfile.ZipFile(root / "usr/share/games/game/data.pk3", "w") as archive:
        archive.write(root / "inner.ogg", "music/battle theme.ogg")
        archive.write(music / "theme.ogg", "music/copy/theme.ogg")
        archive.write(root / "inner.ogg", "sound/cdtracks/not-music-dir.ogg")
        archive.writestr("readme.txt", "not audio")
    (root / "inner.ogg").unlink()
    return root


@pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="ffmpeg converts the tracks")
def test_collect_package_converts_music_files_and_archive_members(tmp_path, monkeypatch):
    monkeypatch.setattr(real_music, "MIN_SECONDS", 2.0)  # short test audio: 10x the speed
    tree = make_tree(tmp_path / "tree")
    sources = find_sources(tree, MUSIC_DIRS)
    assert [s.name for s in sources] == [
        "usr/share/games/game/data/music/jingle.wav",
        "usr/share/games/game/data/music/language.it",
        "usr/share/games/game/data/music/theme.ogg",
        "usr/share/games/game/data.pk3/music/battle theme.ogg",
        "usr/share/games/game/data.pk3/music/copy/theme.ogg"]
    out = tmp_path / "real"
    rows = list(collect_package(out, "game-data", sources, "", {}, set()))
    # the jingle (< MIN_SECONDS) and the text named like a tracker module are left out, the archived theme is a byte copy of the loose one, and
    # the loose one's name takes a hash because two sources share the stem "theme"
    assert len(rows) == 2 and rows[1]["path"] == "game-data/battle_theme.flac"
    assert re.fullmatch(r"game-data/theme-[0-9a-f]{6}\.flac", rows[0]["path"])
    assert [float(r["duration"]) for r in rows] == pytest.approx([2.5, 2.2], abs=0.05)
    assert [(r["sample_rate"], r["channels"]) for r in rows] == [("44100", "2"), ("44100", "1")]
    assert {r["split"] for r in rows} == {"train"} and {r["licence"] for r in rows} == {"unknown"}
    for row in rows:
        info = sf.info(out / row["path"])
        assert info.samplerate == 22050 and info.channels == 1
    mtimes = [(out / r["path"]).stat().st_mtime_ns for r in rows]
    old = {r["path"]: r for r in rows}
    assert list(collect_package(out, "game-data", sources, "", old, set())) == rows  # resumes
    assert [(out / r["path"]).stat().st_mtime_ns for r in rows] == mtimes  # not re-converted


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb builds the test package")
def test_unpack_keeps_audio_archives_and_copyright_of_a_deb(tmp_path):
    root = make_tree(tmp_path / "pkg")
    (root / "DEBIAN").mkdir()
    (root / "DEBIAN/control").write_text(
        "Package: game-data\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@t>\n"
        "Description: test\n", encoding="utf-8")
    (root / "usr/share/doc/game-data").mkdir(parents=True)
    (root / "usr/share/doc/game-data/copyright").write_text("License: GPL-2+\n", encoding="utf-8")
    (root / "usr/share/games/game/level.txt").write_text("not kept", encoding="utf-8")
    subprocess.run(["dpkg-deb", "--build", "--root-owner-group", str(root),
                    str(tmp_path / "game-data_1.0_all.deb")], check=True, capture_output=True)
    deb = debian.fetch("game-data", tmp_path)  # found in the cache: nothing downloads
    tree = unpack(deb, tmp_path / "unpacked" / "game-data")
    kept = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    assert kept == ["usr/share/doc/game-data/copyright", "usr/share/games/game/data.pk3",
                    "usr/share/games/game/data/music/jingle.wav",
                    "usr/share/games/game/data/music/language.it",
                    "usr/share/games/game/data/music/theme.ogg",
                    "usr/share/games/game/sounds/explosion.wav"]
    assert debian.copyright_text(tree, "game-data") == "License: GPL-2+\n"
    (tree / "marker").touch()
    assert unpack(deb, tree) == tree and (tree / "marker").exists()  # unpacked once


COPYRIGHT = """\
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: Some Game

Files: *
Copyright: 2006-2022 The Team
License: GPL-3+

Files: data/music/*
       data/extra/tune.ogg
Copyright: A Composer
License: CC-BY-SA-3.0

Files: data/music/klabauter_dance.ogg
Copyright: Another Composer
License: CC0

Files: ./src/sound/snd/music/ambient1.ogg ./src/sound/snd/music/void.ogg
Copyright: Zeropage
License: GPL-3 or CC-BY-3.0

Files: debian/*
Copyright: 2020 A Packager
License: GPL-2+

License: GPL-3+
 This program is free software; see /usr/share/common-licenses/GPL-3.
"""

FREE_TEXT = """\
This package was debianized by Someone.

You are free to distribute this software under the terms of
the GNU General Public License, version 2 or later.
On Debian systems, the complete text of the GNU General Public
License can be found in /usr/share/common-licenses/GPL-2 file.
"""


def test_licence_per_track_from_a_copyright_file():
    base = "usr/share/games/game/data"
    assert licence_for(COPYRIGHT, f"{base}/music/bay.ogg") == "CC-BY-SA-3.0"
    assert licence_for(COPYRIGHT, f"{base}/music/klabauter_dance.ogg") == "CC0"  # last match
    assert licence_for(COPYRIGHT, f"{base}/extra/tune.ogg") == "CC-BY-SA-3.0"  # continued list
    assert licence_for(COPYRIGHT, f"{base}/sounds/boom.ogg") == "GPL-3+"  # Files: *
    # upstream paths: installed under another root, or in another folder above music/
    assert licence_for(COPYRIGHT, "usr/share/game/snd/music/void.ogg") == "GPL-3 or CC-BY-3.0"
    assert licence_for(COPYRIGHT, "usr/share/games/game2/music/x.ogg") == "CC-BY-SA-3.0"
    assert licence_for(COPYRIGHT, "usr/share/games/game/other/x.ogg") == "GPL-3+"
    assert licence_for(FREE_TEXT, f"{base}/music/bay.ogg") == "GPL-2+"
    assert free_text_licence("Licensed under Creative Commons Attribution-ShareAlike.") == "CC-BY-SA"
    assert free_text_licence("Redistribution and use in source and binary forms, with or "
                             "without modification, are permitted") == "BSD"
    assert free_text_licence("All rights reserved.") == "unknown"


def test_manifest_is_written_atomically_with_every_field(tmp_path):
    rows = [{"path": "a/x.ogg", "source": "a", "licence": "GPL-2+, or CC", "duration": "30.00",
             "split": "train", "bpm": "", "sample_rate": "44100", "channels": "2",
             "scratch": "not a column"},
            {"path": "b/y.ogg", "source": "b", "duration": "40.00", "split": "test"}]
    write_manifest(tmp_path, rows)
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.csv"]  # no part file left
    with open(tmp_path / "manifest.csv", newline="", encoding="utf-8") as handle:
        assert next(csv.reader(handle)) == list(FIELDS)
    back = read_manifest(tmp_path / "manifest.csv")
    assert back[0] == {k: v for k, v in rows[0].items() if k != "scratch"}
    assert back[1]["licence"] == "" and back[1]["split"] == "test"
