"""CMX 3600 EDLs with their audio: reading keeps each track's record position, writing keeps audio.

OpenTimelineIO's CMX 3600 adapter does the event syntax (cuts, dissolves, speed effects,
comments), but as shipped it (a) starts every track at its own first event, so a music cue
whose first event is 10 s after the sequence start is read at 0 s, (b) writes only the first
(video) track, and (c) writes reel names with spaces, which its own reader then cannot parse.
This module wraps it:

* reading detects the frame rate from the frame fields (EDLs do not state it), takes the
  record start to be the first event's record timecode floored to the hour (01:00:00:00 in
  most cuts) and turns each track's lead-in into a gap, so record positions are seconds from
  the record start, which becomes the timeline's ``global_start_time``;
* writing renders each track through the adapter and gives its events the CMX 3600 channel
  field: ``V`` for the video track, ``A`` and ``A2`` for the first two audio tracks (``A3``,
  ``A4``... beyond, as Avid and Resolve write them), record timecodes from the record start.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

import opentimelineio as otio

# Frame rates an EDL's frame fields are read at: the smallest one above the largest field.
RATES = (24, 25, 30, 50, 60)
_TIMECODE = re.compile(r"\b\d\d:\d\d:\d\d[:;](\d\d)\b")
_EVENT = re.compile(r"^(\d+)\s+(\S+)\s+V\s+(.*)$")


def read_edl(text: str) -> otio.schema.Timeline:
    """Parse ``text`` (raises the adapter's errors) with record positions from the record start."""
    rate = detect_rate(text)
    timeline = otio.adapters.read_from_string(text, adapter_name="cmx_3600", rate=rate)
    leads = {id(track): _first_record_in(track, rate) for track in timeline.tracks}
    frames = min((lead.value for lead in leads.values()), default=0)
    hour = 3600 * rate
    start = otio.opentime.RationalTime(frames // hour * hour, rate)
    for track in timeline.tracks:
        lead = leads[id(track)] - start
        track.source_range = None
        if lead.value > 0:
            track.insert(0, otio.schema.Gap(source_range=otio.opentime.TimeRange(
                otio.opentime.RationalTime(0, rate), lead)))
    timeline.global_start_time = start
    return timeline


def detect_rate(text: str) -> int:
    """The smallest common frame rate above every frame field of the EDL's timecodes."""
    largest = max((int(m.group(1)) for m in _TIMECODE.finditer(text)), default=0)
    return next((rate for rate in RATES if rate > largest), RATES[-1])


def _first_record_in(track: otio.schema.Track, rate: int) -> otio.opentime.RationalTime:
    """The adapter trims each track to start at its first event: that event's record timecode."""
    if track.source_range is None:
        return otio.opentime.RationalTime(0, rate)
    return (-track.source_range.start_time).rescaled_to(rate).round()


def write_edl(timeline: otio.schema.Timeline) -> str:
    """The EDL text of ``timeline``'s video track (at most one) and audio tracks, in that order.

    Raises ``ValueError`` with a one-line reason for what CMX 3600 cannot hold.
    """
    video = [t for t in timeline.video_tracks() if t.enabled and t.find_clips()]
    audio = [t for t in timeline.audio_tracks() if t.enabled and t.find_clips()]
    if len(video) > 1:
        raise ValueError(f"an EDL holds one video track; this timeline has {len(video)}")
    rate = _rate(timeline)
    start = timeline.global_start_time or otio.opentime.RationalTime(0, rate)
    lines = [f"TITLE: {timeline.name or 'soundalike'}", "FCM: NON-DROP FRAME", ""]
    edits = 0
    channels = [("V", t) for t in video] + [(_audio_channel(n), t) for n, t in enumerate(audio)]
    for channel, track in channels:
        events = _track_events(track, rate, start)
        for line in events.splitlines():
            event = _EVENT.match(line)
            if event is None:  # a comment line of the event above
                lines.append(line)
                continue
            number = edits + int(event.group(1))
            lines.append(f"{number:03d}  {event.group(2):8} {channel:5} {event.group(3)}")
        edits += max((int(m.group(1)) for m in map(_EVENT.match, events.splitlines()) if m), default=0)
    return "\n".join(lines) + "\n"


def _audio_channel(n: int) -> str:
    return "A" if n == 0 else f"A{n + 1}"


def _rate(timeline: otio.schema.Timeline) -> float:
    """The first clip's rate (EDL timecodes need one rate; 24 for an empty timeline)."""
    for clip in timeline.find_clips():
        return clip.trimmed_range().duration.rate
    return 24.0


def _track_events(track: otio.schema.Track, rate: float, start: otio.opentime.RationalTime) -> str:
    """One track's events as the adapter writes a lone video track (channel ``V``, numbered from 1)."""
    alone = track.clone()
    alone.kind = otio.schema.TrackKind.Video
    if start.value > 0:  # the adapter's record timecodes count from the track's start
        alone.insert(0, otio.schema.Gap(source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), start.rescaled_to(rate))))
    for clip in alone.find_clips():
        cmx = dict(clip.metadata.get("cmx_3600", {}))
        cmx["reel"] = _reel(cmx.get("reel") or _media_name(clip))
        clip.metadata["cmx_3600"] = cmx
    lone = otio.schema.Timeline(tracks=[alone])
    return otio.adapters.write_to_string(lone, adapter_name="cmx_3600", rate=rate)


def _media_name(clip: otio.schema.Clip) -> str:
    url = getattr(clip.media_reference, "target_url", None) or ""
    return unquote(url).rsplit("/", 1)[-1].rsplit(".", 1)[0] if url else clip.name


def _reel(name: str) -> str:
    """A reel field: letters and digits only (a space splits the event line), 8 at most; AX if none."""
    reel = re.sub(r"[^A-Za-z0-9_]", "", name)[:8]
    return reel or "AX"
