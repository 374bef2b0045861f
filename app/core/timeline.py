"""Timelines in and out (OpenTimelineIO): the temp-music cues of a cut, and the conformed cut.

Public API::

    timeline = read_timeline("cut.xml")                 # FCP 7 XML, FCPXML, EDL, AAF, .otio
    cues = list_cues(timeline, tracks={"A2"}, media_dir="~/temp")   # clips on audio tracks
    replace_cues(timeline, {0: Replacement("/lib/x.wav", 12.5)})   # in place
    write_timeline(timeline, "conformed.otio")          # format from the extension

A cue is one clip on an audio track: its name, track, source file, source in/out (seconds
in the file) and record in (seconds from the start of its track). Tracks are named by their
name, else (no name, or one several tracks share) ``A1``, ``A2``... in order (``--track``
accepts either). EDLs carry no paths:
their media is found in ``media_dir`` by clip name, else reel name (file name with or
without extension). A file reference's timecode start (``available_range``) is subtracted,
so ``source_in_s`` is always seconds into the decoded file.

Conforming replaces a cue clip's media and source range in place: the replacement starts
at its offset and keeps the cue's duration, so record positions, durations, every other
clip and track (video included), markers and effects are unchanged.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio

from app.core.aaf import WRITE_OPTIONS as AAF_WRITE_OPTIONS
from app.core.aaf import for_aaf
from app.core.edl import read_edl, write_edl
from app.core.scanner import AUDIO_EXTENSIONS
from model.atomic import atomic_path

SUFFIXES = (".otio", ".xml", ".fcpxml", ".edl", ".aaf")  # what read/write accept


class TimelineError(Exception):
    """A timeline that cannot be read or written; ``str(e)`` is a one-line reason."""


@dataclass(frozen=True)
class Cue:
    """One temp-music clip of a timeline (times in seconds)."""

    index: int
    name: str
    track: str
    source: str  # the media file's path ("" when not found)
    source_in_s: float
    source_out_s: float
    record_in_s: float
    track_index: int  # position among the timeline's audio tracks
    clip_index: int  # position among that track's clips

    @property
    def duration_s(self) -> float:
        return self.source_out_s - self.source_in_s

    def to_json(self) -> dict[str, object]:
        """The CLI contract: {index, name, track, source, source_in_s, source_out_s, record_in_s}."""
        return {
            "index": self.index, "name": self.name, "track": self.track, "source": self.source,
            "source_in_s": round(self.source_in_s, 3), "source_out_s": round(self.source_out_s, 3),
            "record_in_s": round(self.record_in_s, 3),
        }


@dataclass(frozen=True)
class Replacement:
    """What replaces a cue: a library file, from ``offset_s`` into it."""

    path: str
    offset_s: float
    duration_s: float | None = None  # the file's length, to keep the cue inside it


def read_timeline(path: str | os.PathLike[str]) -> otio.schema.Timeline:
    path = Path(path)
    if not path.is_file():
        raise TimelineError(f"{path}: no such file")
    try:
        if path.suffix.lower() == ".edl":
            result = read_edl(path.read_text(encoding="utf-8", errors="replace"))
        else:
            result = otio.adapters.read_from_file(str(path))
    except Exception as exc:  # noqa: BLE001 - adapters raise anything; the user needs one line
        raise TimelineError(f"cannot read timeline {path}: {_first_line(exc)}") from None
    if isinstance(result, otio.schema.SerializableCollection):  # FCP XML may hold several
        timelines = list(result.find_children(descended_from_type=otio.schema.Timeline))
        if not timelines:
            raise TimelineError(f"{path}: no timeline (sequence) in the file")
        result = timelines[0]
    if not isinstance(result, otio.schema.Timeline):
        raise TimelineError(f"{path}: not a timeline")
    return result


def write_timeline(timeline: otio.schema.Timeline, path: str | os.PathLike[str]) -> None:
    """Write in the format ``path``'s extension names (atomically: temp file, then rename)."""
    path = Path(path)
    if path.suffix.lower() not in SUFFIXES:
        raise TimelineError(f"{path}: unknown timeline format; use one of {', '.join(SUFFIXES)}")
    try:
        with atomic_path(path) as tmp:  # keeps the suffix: the adapter is chosen by it
            if path.suffix.lower() == ".edl":
                tmp.write_text(write_edl(timeline), encoding="utf-8")
            elif path.suffix.lower() == ".aaf":
                otio.adapters.write_to_file(for_aaf(timeline), str(tmp), **AAF_WRITE_OPTIONS)
            else:
                otio.adapters.write_to_file(timeline, str(tmp))
    except Exception as exc:  # noqa: BLE001
        raise TimelineError(f"cannot write timeline {path}: {_first_line(exc)}") from None


def track_labels(tracks: Sequence[otio.schema.Track]) -> list[str]:
    """Each audio track's name, else ``A1``, ``A2``...; also by position when several tracks
    share a name (the AAF reader names every audio track "Sequence")."""
    names = [track.name for track in tracks]
    return [name if name and names.count(name) == 1 else f"A{t + 1}" for t, name in enumerate(names)]


def _audio_clips(timeline: otio.schema.Timeline) -> Iterator[tuple[int, str, int, otio.schema.Clip]]:
    tracks = timeline.audio_tracks()
    for t, (track, label) in enumerate(zip(tracks, track_labels(tracks), strict=True)):
        clips = [item for item in track if isinstance(item, otio.schema.Clip)]
        for c, clip in enumerate(clips):
            yield t, label, c, clip


def list_cues(
    timeline: otio.schema.Timeline,
    tracks: Iterable[str] | None = None,
    media_dir: str | os.PathLike[str] | None = None,
) -> list[Cue]:
    """The clips on the chosen audio tracks (all when ``tracks`` is empty), in track order."""
    wanted = set(tracks or ())
    cues = []
    for t, label, c, clip in _audio_clips(timeline):
        if wanted and label not in wanted and f"A{t + 1}" not in wanted:
            continue
        start = _media_start_s(clip)
        source_range = clip.trimmed_range()
        source_in = source_range.start_time.to_seconds() - start
        cues.append(Cue(
            index=len(cues), name=clip.name or "", track=label,
            source=_media_path(clip, media_dir),
            source_in_s=source_in, source_out_s=source_in + source_range.duration.to_seconds(),
            record_in_s=clip.range_in_parent().start_time.to_seconds(),
            track_index=t, clip_index=c,
        ))
    if wanted and not cues:
        names = sorted({label for _, label, _, _ in _audio_clips(timeline)})
        raise TimelineError(f"no clips on track(s) {', '.join(sorted(wanted))}; audio tracks: {', '.join(names) or 'none'}")
    return cues


def _media_start_s(clip: otio.schema.Clip) -> float:
    ref = clip.media_reference
    available = getattr(ref, "available_range", None) if ref is not None else None
    return available.start_time.to_seconds() if available is not None else 0.0


def _media_path(clip: otio.schema.Clip, media_dir: str | os.PathLike[str] | None) -> str:
    ref = clip.media_reference
    if isinstance(ref, otio.schema.ExternalReference) and ref.target_url:
        return url_to_path(ref.target_url)
    if media_dir is None:
        return ""
    reel = str(clip.metadata.get("cmx_3600", {}).get("reel", "") or "")
    return find_media(Path(media_dir), [clip.name or "", reel])


def find_media(folder: Path, names: Iterable[str]) -> str:
    """The audio file in ``folder`` (recursively) whose name or stem is one of ``names``."""
    wanted = [n for n in names if n]
    files = [p for p in folder.expanduser().rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS]
    for name in wanted:
        for p in sorted(files):
            if name in (p.name, p.stem):
                return str(p.resolve())
    return ""


def url_to_path(url: str) -> str:
    """``file://`` URL (or a plain path) -> local path."""
    parsed = urlparse(url)
    if parsed.scheme in ("", "file") or len(parsed.scheme) == 1:  # "C:/..." has scheme "c"
        return unquote(parsed.path) if parsed.scheme == "file" else url
    return url


def replace_cues(
    timeline: otio.schema.Timeline, cues: list[Cue], replacements: Mapping[int, Replacement]
) -> None:
    """Put each replacement in its cue's clip, in place (same record position and duration)."""
    clips = {(t, c): clip for t, _, c, clip in _audio_clips(timeline)}
    for cue in cues:
        choice = replacements.get(cue.index)
        if choice is None:
            continue
        clip = clips[(cue.track_index, cue.clip_index)]
        old = clip.trimmed_range()
        rate = old.duration.rate
        offset = choice.offset_s
        if choice.duration_s is not None:  # keep the cue's length inside the replacement
            offset = max(0.0, min(offset, choice.duration_s - cue.duration_s))
        available = None
        if choice.duration_s is not None:
            available = otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rate),
                otio.opentime.RationalTime.from_seconds(choice.duration_s, rate).round(),
            )
        clip.media_reference = otio.schema.ExternalReference(
            target_url=Path(choice.path).resolve().as_uri(), available_range=available
        )
        clip.source_range = otio.opentime.TimeRange(
            otio.opentime.RationalTime.from_seconds(offset, rate).round(), old.duration
        )
        clip.name = Path(choice.path).stem
        _forget_old_media(clip)


def _forget_old_media(clip: otio.schema.Clip) -> None:
    """Drop what named the temp media: an AAF mob id would relink the temp file, an EDL reel its tape."""
    clip.metadata.pop("AAF", None)
    cmx = clip.metadata.get("cmx_3600")
    if cmx is not None and "reel" in cmx:
        cmx = dict(cmx)
        del cmx["reel"]
        clip.metadata["cmx_3600"] = cmx


def conform_timeline(
    source: str | os.PathLike[str], out: str | os.PathLike[str], cues: Sequence[Cue],
    choices: dict[int, Replacement],
) -> None:
    """Write ``source`` to ``out`` with each chosen cue replaced (format from ``out``'s extension)."""
    timeline = read_timeline(source)
    replace_cues(timeline, list(cues), choices)
    write_timeline(timeline, out)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
