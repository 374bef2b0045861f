"""Render a planned corpus in parallel, resumably, and keep ``labels.csv`` in step.

``render_corpus`` is a generator (house style: every yield is progress and a cancellation
point). Clips already on disk are skipped, each clip is written to a temporary name and
renamed, and ``labels.csv`` (only clips that exist) is rewritten atomically every few clips,
so a crash or Ctrl-C loses at most the clips in flight and the trainer can read a
half-finished corpus. ``corpus.json`` pins the seed and length so a resume cannot mix two
different corpora in one folder.
"""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

from model.synth.arrange import arrange
from model.synth.midi import encode_midi
from model.synth.plan import ClipSpec, plan
from model.synth.render import RENDER_RATE, post_process, run_fluidsynth, sample_mix, write_ogg

LABEL_COLUMNS = ("path", "genre", "mood", "instrument", "bpm", "split", "soundfont", "seed")


@dataclass(frozen=True)
class CorpusConfig:
    """What to render. ``readable_names``/``tags`` are for the shipped demo library."""

    out_dir: Path
    count: int
    seed: int
    seconds: float
    soundfonts: tuple[str, ...]
    jobs: int = 1
    quality: float = 0.35  # Vorbis compression level, 0 best .. 1 smallest
    readable_names: bool = False
    tags: bool = False
    keep_midi: bool = False


@dataclass(frozen=True)
class RenderProgress:
    done: int
    total: int
    rendered: int
    skipped: int
    failed: int
    message: str = ""


def clip_path(spec: ClipSpec, readable: bool) -> str:
    """Path of a clip relative to the corpus folder."""
    if readable:
        return f"{spec.genre}_{spec.mood}_{spec.instrument}_{spec.bpm}bpm_{spec.index:02d}.ogg"
    return f"clips/{spec.index:05d}.ogg"


def label_row(spec: ClipSpec, readable: bool) -> dict[str, str]:
    return {"path": clip_path(spec, readable), "genre": spec.genre, "mood": spec.mood,
            "instrument": spec.instrument, "bpm": str(spec.bpm), "split": spec.split,
            "soundfont": spec.soundfont_name, "seed": str(spec.seed)}


def clip_midi(spec: ClipSpec, seconds: float) -> tuple[bytes, float]:
    """The clip's MIDI bytes and the offset (s) of the labelled excerpt in the render."""
    arrangement = arrange(spec.genre, spec.mood, spec.instrument, spec.bpm, spec.seed, seconds)
    data = encode_midi(arrangement.parts, arrangement.bpm, arrangement.beats_per_bar,
                       arrangement.end_tick)
    return data, arrangement.offset_s


def render_clip(spec: ClipSpec, out_dir: Path, seconds: float, quality: float = 0.35,
                readable: bool = False, tags: bool = False, keep_midi: bool = False) -> Path:
    """Render one clip to its OGG under ``out_dir`` (no-op if it already exists)."""
    target = out_dir / clip_path(spec, readable)
    if target.exists():
        return target
    midi_bytes, offset_s = clip_midi(spec, seconds)
    with tempfile.TemporaryDirectory(prefix="clip-") as tmp:
        midi = Path(tmp) / "clip.mid"
        midi.write_bytes(midi_bytes)
        stereo = run_fluidsynth(midi, Path(spec.soundfont), sample_mix(spec.seed))
    audio = post_process(stereo, sample_mix(spec.seed), offset_s, seconds, RENDER_RATE)
    if keep_midi:
        midi_out = target.with_suffix(".mid")
        midi_out.parent.mkdir(parents=True, exist_ok=True)
        midi_out.write_bytes(midi_bytes)
    write_ogg(target, audio, RENDER_RATE, quality)
    if tags:
        _tag(target, spec)
    return target


def _tag(path: Path, spec: ClipSpec) -> None:
    """Vorbis comments so a music app shows something sensible for the demo clips."""
    from mutagen.oggvorbis import OggVorbis  # only the demo library needs tags

    title = f"{spec.genre.replace('_', ' ').title()} {spec.mood} {spec.instrument}"
    audio = OggVorbis(path)
    audio["title"] = f"{title.replace('_', ' ')} #{spec.index:02d}"
    audio["artist"] = "soundalike generator"
    audio["album"] = "soundalike demo library"
    audio["genre"] = spec.genre
    audio["mood"] = spec.mood
    audio["bpm"] = str(spec.bpm)
    audio["comment"] = f"lead: {spec.instrument}; soundfont: {spec.soundfont_name}"
    audio.save()


def _render_task(args: tuple) -> tuple[int, str]:
    spec, out_dir, seconds, quality, readable, tags, keep_midi = args
    try:
        render_clip(spec, out_dir, seconds, quality, readable, tags, keep_midi)
        return spec.index, ""
    except Exception as exc:  # reported per clip; one bad clip never stops the corpus
        return spec.index, f"{type(exc).__name__}: {exc}".splitlines()[0]


def write_labels(out_dir: Path, specs: list[ClipSpec], readable: bool) -> int:
    """Atomically rewrite labels.csv with the clips that exist; returns the row count."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=LABEL_COLUMNS, lineterminator="\n")
    writer.writeheader()
    rows = 0
    for spec in specs:
        if (out_dir / clip_path(spec, readable)).exists():
            writer.writerow(label_row(spec, readable))
            rows += 1
    tmp = out_dir / ".labels.csv.part"
    tmp.write_text(buffer.getvalue(), encoding="utf-8")
    os.replace(tmp, out_dir / "labels.csv")
    return rows


def _check_manifest(config: CorpusConfig) -> None:
    manifest = config.out_dir / "corpus.json"
    pinned = {"seed": config.seed, "seconds": config.seconds,
              "soundfonts": list(config.soundfonts), "sample_rate": RENDER_RATE}
    if manifest.exists():
        old = json.loads(manifest.read_text(encoding="utf-8"))
        diff = [k for k in pinned if old.get(k) != pinned[k]]
        if diff:
            raise ValueError(f"{config.out_dir} holds a corpus made with other {', '.join(diff)}"
                             "; use another --out folder")
    else:
        manifest.write_text(json.dumps(pinned, indent=2) + "\n", encoding="utf-8")


def render_corpus(config: CorpusConfig) -> Iterator[RenderProgress]:
    """Render every missing clip of the plan, yielding progress after each one."""
    config.out_dir.mkdir(parents=True, exist_ok=True)
    _check_manifest(config)
    specs = plan(config.seed, config.count, config.soundfonts)
    todo = [s for s in specs if not (config.out_dir / clip_path(s, config.readable_names)).exists()]
    skipped = len(specs) - len(todo)
    rendered = failed = 0
    yield RenderProgress(skipped, len(specs), 0, skipped, 0, f"{len(todo)} clips to render")
    tasks = [(s, config.out_dir, config.seconds, config.quality, config.readable_names,
              config.tags, config.keep_midi) for s in todo]
    if todo:
        with ProcessPoolExecutor(max_workers=max(1, config.jobs)) as pool:
            pending = {pool.submit(_render_task, t) for t in tasks[: 4 * config.jobs]}
            queue = iter(tasks[4 * config.jobs:])
            try:
                while pending:
                    finished, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in finished:
                        index, error = future.result()
                        nxt = next(queue, None)
                        if nxt is not None:
                            pending.add(pool.submit(_render_task, nxt))
                        if error:
                            failed += 1
                        else:
                            rendered += 1
                        if (rendered + failed) % 20 == 0:
                            write_labels(config.out_dir, specs, config.readable_names)
                        message = f"clip {index}: {error}" if error else f"clip {index}"
                        yield RenderProgress(skipped + rendered + failed, len(specs), rendered,
                                             skipped, failed, message)
            finally:
                for future in pending:
                    future.cancel()
    write_labels(config.out_dir, specs, config.readable_names)
