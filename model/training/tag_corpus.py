"""Tag every file of a manifest with both musicnn taggers, per 3-s segment (resumable, cached).

    python -m model.training.tag_corpus --manifest data/real/manifest.csv --out data/teacher/real

A manifest is any CSV with a ``path`` column relative to the CSV's folder (the real-music
manifest, a synthetic corpus's labels.csv). Rows whose file does not exist yet are skipped,
so a corpus that is still being rendered can be tagged as it grows: run the command again.
``--scan DIR`` instead tags every audio file under DIR, with paths relative to it: the real
music is converted package by package and its manifest is written only at the end, and the
cache keys are the same relative paths, so the manifest later finds them done.

One ``.npz`` per audio file, at the file's relative path under ``--out`` (suffix ``.npz``),
written atomically and holding:
- ``msd``, ``mtt``: (segments, 50) float32 tag probabilities (``teacher_tags`` orders);
- ``start_s``: (segments,) segment start in seconds (segments are 187 frames, 2.992 s apart);
- ``rms``: (segments,) RMS of the 16 kHz audio of each segment, to drop silent stretches
  (the taggers answer silence with confident default guesses);
- ``source_size``, ``source_mtime_ns``, ``version``: the cache key. A file whose size or
  mtime changed, or a cache written by another ``CACHE_VERSION``, is tagged again.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from model.corpus.debian import is_held_out

CACHE_VERSION = 1
AUDIO_SUFFIXES = frozenset({".ogg", ".opus", ".wav", ".flac", ".mp3"})


@dataclass(frozen=True)
class Job:
    """One audio file and where its tags go."""

    source: Path
    target: Path


def read_jobs(manifest: Path, out: Path) -> list[Job]:
    """Jobs for every manifest row whose audio file exists now, in manifest order."""
    with open(manifest, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    jobs = []
    for row in rows:
        relative = Path(row["path"])
        source = manifest.parent / relative
        if source.is_file():
            jobs.append(Job(source, out / relative.with_suffix(".npz")))
    return jobs


def scan_jobs(root: Path, out: Path) -> list[Job]:
    """Jobs for every audio file under ``root`` (sorted), leaving out dot-files (files still
    being written) and anything inside a held-out package's folder."""
    jobs = []
    for source in sorted(root.rglob("*")):
        relative = source.relative_to(root)
        # Held-out games are never tagged for training, even when found under a scanned folder.
        if (source.suffix.lower() in AUDIO_SUFFIXES and source.is_file()
                and not any(part.startswith(".") or is_held_out(part) for part in relative.parts)):
            jobs.append(Job(source, out / relative.with_suffix(".npz")))
    return jobs


def is_current(job: Job) -> bool:
    """Whether ``job.target`` holds this teacher's tags of the file as it is now."""
    if not job.target.exists():
        return False
    stat = job.source.stat()
    try:
        with np.load(job.target) as cached:
            return (int(cached["version"]) == CACHE_VERSION and int(cached["source_size"]) == stat.st_size
                    and int(cached["source_mtime_ns"]) == stat.st_mtime_ns)
    except (OSError, ValueError, KeyError):  # a damaged cache is redone, never trusted
        return False


def decode(path: Path) -> tuple[np.ndarray, int]:
    """Whole file as mono float32 at its own rate (resampling is the teacher's job)."""
    samples, rate = sf.read(path, dtype="float32", always_2d=True)
    return samples.mean(axis=1), int(rate)


def tag_file(teacher, job: Job) -> float:
    """Tag one file and write its cache atomically; returns the audio seconds tagged."""
    from model.training import teacher as musicnn

    stat = job.source.stat()
    samples, rate = decode(job.source)
    audio = musicnn.resample(samples, rate)
    probabilities = teacher.tag_audio(audio, musicnn.SAMPLE_RATE)
    count = len(probabilities["MSD_musicnn"])
    span = musicnn.SEGMENT_FRAMES * musicnn.HOP_LENGTH
    rms = np.array([np.sqrt(np.mean(np.square(audio[i * span:(i + 1) * span]))) if i * span < len(audio)
                    else 0.0 for i in range(count)], dtype=np.float32)
    buffer = io.BytesIO()
    np.savez(buffer, msd=probabilities["MSD_musicnn"], mtt=probabilities["MTT_musicnn"],
             start_s=(np.arange(count) * musicnn.SEGMENT_SECONDS).astype(np.float32), rms=rms,
             source_size=stat.st_size, source_mtime_ns=stat.st_mtime_ns, version=CACHE_VERSION)
    job.target.parent.mkdir(parents=True, exist_ok=True)
    tmp = job.target.with_name(f".{job.target.name}.part")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, job.target)
    return len(samples) / rate


def run(jobs: list[Job], log=sys.stderr, max_minutes: float | None = None) -> tuple[int, float]:
    """Tag the jobs not cached yet; returns (files tagged, audio seconds tagged).

    With ``max_minutes`` it stops after the file that crosses that much wall time, so a loop
    over several manifests returns to the first (real music) regularly as it grows.
    """
    from model.training.teacher import Teacher

    todo = [job for job in jobs if not is_current(job)]
    print(f"tag_corpus: {len(jobs)} files, {len(jobs) - len(todo)} cached, "
          f"{len(todo)} to tag", file=log, flush=True)
    if not todo:
        return 0, 0.0
    teacher = Teacher()
    started = time.monotonic()
    done, seconds = 0, 0.0
    for job in todo:
        if is_current(job):  # another run (e.g. of one package's folder) got there first
            continue
        try:
            seconds += tag_file(teacher, job)
            done += 1
        except Exception as exc:  # one unreadable file never stops the corpus
            print(f"tag_corpus: {job.source}: {type(exc).__name__}: {exc}".splitlines()[0],
                  file=log, flush=True)
            continue
        wall = time.monotonic() - started
        print(f"tag_corpus: [{done}/{len(todo)}] {job.source.name}: {seconds / 3600:.2f} h audio "
              f"in {wall / 60:.1f} min ({seconds / max(wall, 1e-9):.1f} audio s / wall s)",
              file=log, flush=True)
        if max_minutes is not None and wall >= 60 * max_minutes:
            print(f"tag_corpus: stopping after {max_minutes:g} min; run again to continue",
                  file=log, flush=True)
            break
    return done, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m model.training.tag_corpus",
                                     description=__doc__.split("\n\n")[0])
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--manifest", type=Path, help="CSV with a relative `path` column")
    source.add_argument("--scan", type=Path, help="tag every audio file under this folder")
    parser.add_argument("--out", type=Path, required=True, help="cache folder for this corpus")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1)")
    parser.add_argument("--max-minutes", type=float, help="stop after this much wall time")
    parser.add_argument("--count-only", action="store_true",
                        help="print how many files are not tagged yet, tag nothing")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    jobs = read_jobs(args.manifest, args.out) if args.manifest else scan_jobs(args.scan, args.out)
    if args.count_only:
        print(sum(not is_current(job) for job in jobs))
        return 0
    print(f"tag_corpus: {args.manifest or f'every audio file under {args.scan}'}", file=sys.stderr, flush=True)
    run(jobs, max_minutes=args.max_minutes)
    return 0


if __name__ == "__main__":
    sys.exit(main())
