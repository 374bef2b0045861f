"""The tagging job: per-segment cache files, resumability, and what it skips."""

import csv
import os

import numpy as np
import pytest
import soundfile as sf

from model.training import tag_corpus, teacher, teacher_cache


def _write_manifest(folder, names) -> None:
    with open(folder / "manifest.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "split"])
        writer.writerows([[f"music/{name}", "train"] for name in names])


def _tag(folder, out, **options) -> tuple[int, float]:
    with open(os.devnull, "w") as log:
        return tag_corpus.run(tag_corpus.read_jobs(folder / "manifest.csv", out), log=log, **options)


@pytest.fixture
def library(tmp_path):
    """Two 16-kHz clips (no resampling: keeps the test fast); the second ends in 5 s of silence."""
    (tmp_path / "music").mkdir()
    rng = np.random.default_rng(3)
    sf.write(tmp_path / "music" / "a.wav", 0.3 * rng.standard_normal(7 * 16000), 16000)
    tail = np.concatenate([0.3 * rng.standard_normal(5 * 16000), np.zeros(5 * 16000)])
    sf.write(tmp_path / "music" / "b.wav", tail, 16000)
    _write_manifest(tmp_path, ["a.wav", "b.wav", "not_rendered_yet.wav"])
    return tmp_path


@pytest.mark.slow
def test_tags_every_existing_file_once(teacher_installed, library, tmp_path) -> None:
    out = tmp_path / "tags"
    assert _tag(library, out)[0] == 2
    cached = np.load(out / "music" / "b.npz")
    assert cached["msd"].shape == cached["mtt"].shape == (3, 50)
    assert ((cached["msd"] > 0) & (cached["msd"] < 1)).all()
    np.testing.assert_allclose(cached["start_s"], np.arange(3) * teacher.SEGMENT_SECONDS)
    assert cached["rms"][0] > 0.2 and cached["rms"][2] < 0.1 * cached["rms"][0]
    assert not (out / "music" / "not_rendered_yet.npz").exists()
    audible = teacher_cache.load_tags(out / "music" / "b.npz")
    np.testing.assert_array_equal(audible["start_s"], cached["start_s"][:2])  # silent tail dropped
    assert audible["mtt"].shape == (2, 50)
    assert _tag(library, out) == (0, 0.0)


@pytest.mark.slow
def test_time_limit_stops_after_one_file(teacher_installed, library, tmp_path) -> None:
    out = tmp_path / "tags"
    assert _tag(library, out, max_minutes=0)[0] == 1
    assert _tag(library, out)[0] == 1


@pytest.mark.slow
def test_changed_file_is_tagged_again(teacher_installed, library, tmp_path) -> None:
    out = tmp_path / "tags"
    _tag(library, out)
    sf.write(library / "music" / "a.wav", np.zeros(4 * 16000), 16000)
    jobs = tag_corpus.read_jobs(library / "manifest.csv", out)
    assert [tag_corpus.is_current(job) for job in jobs] == [False, True]
    (out / "music" / "b.npz").write_bytes(b"truncated")
    assert not tag_corpus.is_current(jobs[1])


def test_unreadable_file_is_reported_and_skipped(teacher_installed, tmp_path) -> None:
    (tmp_path / "music").mkdir()
    (tmp_path / "music" / "broken.wav").write_bytes(b"RIFF not audio")
    _write_manifest(tmp_path, ["broken.wav"])
    log = tmp_path / "log.txt"
    with open(log, "w") as handle:
        assert tag_corpus.run(tag_corpus.read_jobs(tmp_path / "manifest.csv", tmp_path / "tags"), log=handle) == (0, 0.0)
    assert "broken.wav" in log.read_text()
    assert not list((tmp_path / "tags").rglob("*.npz"))


def test_scan_finds_audio_but_not_partial_files_or_held_out_packages(tmp_path) -> None:
    for name in ("pkg/a.ogg", "pkg/sub/b.wav", "pkg/.c.part.ogg", "pkg/notes.txt",
                 "drascula-music/d.ogg", "other/e.FLAC"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    jobs = tag_corpus.scan_jobs(tmp_path, tmp_path / "out")
    assert [job.source.relative_to(tmp_path).as_posix() for job in jobs] == [
        "other/e.FLAC", "pkg/a.ogg", "pkg/sub/b.wav"]
    assert jobs[1].target == tmp_path / "out" / "pkg" / "a.npz"
