"""What OpenTimelineIO's AAF writer needs that other formats' timelines lack.

The writer (otio-aaf-adapter) refuses a timeline unless every clip and gap runs at the
timeline's edit rate, every clip's media states its available range, and every clip has an
Avid mob id. A cut read from an AAF has all three; one read from XML, FCPXML, an EDL or
``.otio`` usually has none. ``for_aaf`` returns a copy that has them: times rescaled to the
edit rate (to the nearest frame), a media without a known extent taken to span from 0 to
the clip's out point, and (through ``WRITE_OPTIONS``) a new mob id for each clip without one.
Transitions keep the refusal: the writer needs Avid's own effect parameters for them.
"""

from __future__ import annotations

import opentimelineio as otio

WRITE_OPTIONS = {"use_empty_mob_ids": True}  # clips without a mob id (non-AAF sources) get one


def for_aaf(timeline: otio.schema.Timeline) -> otio.schema.Timeline:
    """A copy of ``timeline`` that the AAF writer accepts (raises ``ValueError`` for transitions)."""
    transitions = timeline.tracks.find_children(descended_from_type=otio.schema.Transition)
    if any("AAF" not in transition.metadata for transition in transitions):
        raise ValueError("the AAF writer needs Avid's parameters for transitions; conform to .xml or .otio")
    copy = timeline.clone()
    rate = copy.duration().rate
    for item in copy.tracks.find_children():
        if isinstance(item, (otio.schema.Clip, otio.schema.Gap)) and item.source_range is not None:
            item.source_range = _at_rate(item.source_range, rate)
        if isinstance(item, otio.schema.Clip):
            ref = item.media_reference
            if ref.available_range is None and item.source_range is not None:  # the media reaches the out point
                end = item.source_range.end_time_exclusive()
                ref.available_range = otio.opentime.TimeRange(end - end, end)
            if ref.available_range is not None:
                ref.available_range = _at_rate(ref.available_range, rate)
    return copy


def _at_rate(span: otio.opentime.TimeRange, rate: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(span.start_time.rescaled_to(rate).round(),
                                   span.duration.rescaled_to(rate).round())
