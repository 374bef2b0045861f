"""Timeline mode in the real window over fake services: cue list, per-cue search, pick, export."""

from __future__ import annotations

import csv
from pathlib import Path

import opentimelineio as otio

from app.core.timeline import read_timeline
from tests.app.services.fakes import write_tone

RATE = 25


def _range(start: float, duration: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(otio.opentime.RationalTime(start * RATE, RATE),
                                   otio.opentime.RationalTime(duration * RATE, RATE))


def make_timeline(folder: Path) -> Path:
    """A video track and two temp-music cues (regions of two tone files)."""
    timeline = otio.schema.Timeline(name="cut")
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(otio.schema.Clip(name="shot", source_range=_range(0, 30)))
    audio = otio.schema.Track(name="Music", kind=otio.schema.TrackKind.Audio)
    for n, (record, source_in) in enumerate(((2.0, 5.0), (20.0, 1.0))):
        temp = write_tone(folder / f"temp{n}.wav", 30.0, freq=330.0 + 110 * n, loud_from=10.0)
        audio.append(otio.schema.Gap(source_range=_range(0, record - (0 if n == 0 else 12.0))))
        audio.append(otio.schema.Clip(
            name=f"temp{n}", source_range=_range(source_in, 10),
            media_reference=otio.schema.ExternalReference(target_url=temp.as_uri())))
    timeline.tracks.extend([video, audio])
    path = folder / "cut.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def test_open_pick_audition_and_export(qtbot, window, tmp_path) -> None:
    cut = make_timeline(tmp_path)
    pane = window.timeline_pane
    assert not pane.isVisible()
    with qtbot.waitSignal(window.s.search.results_changed, timeout=10000):  # cue 0 is searched at once
        window.s.timeline.open(str(cut))
    assert pane.isVisible() and pane.table.rowCount() == 2
    assert pane.table.item(0, 3).text() == "0:00:02.00" and pane.table.item(1, 3).text() == "0:00:20.00"
    query = window.s.search.query
    assert query.path == str(tmp_path / "temp0.wav") and query.region == (5.0, 15.0)  # the cue's region

    window.results.selectRow(0)
    chosen = window.results.current_result()
    pane.pick_selected()
    assert pane.table.item(0, 0).text() == "✓"
    assert pane.table.item(0, 5).text() == chosen.track.display_title
    assert pane.table.item(1, 5).text() == "(temp clip kept)"

    pane.audition()  # the cue's region first, as the query; the pick follows when it ends
    assert window.s.playback.role == "query" and window.s.playback.region == (5.0, 15.0)

    out = tmp_path / "conformed.otio"
    with qtbot.waitSignal(window.s.timeline.exported, timeout=10000) as exported:
        window.s.timeline.export(str(out))
    assert exported.args[0] == [str(out), str(tmp_path / "conformed.cues.csv"), str(tmp_path / "conformed.cues.html")]
    clips = list(read_timeline(out).audio_tracks()[0].find_clips())
    assert otio.url_utils.filepath_from_url(clips[0].media_reference.target_url) == chosen.track.path
    assert clips[0].source_range.duration.to_seconds() == 10.0
    assert clips[1].name == "temp1"  # unpicked: the temp clip stays
    rows = list(csv.reader((tmp_path / "conformed.cues.csv").open()))
    assert rows[0][:3] == ["cue", "name", "record in"] and rows[1][:4] == ["0", "temp0", "0:00:02.00", "0:00:10.00"]
    assert "temp0" in (tmp_path / "conformed.cues.html").read_text()


def test_sliders_and_filters_per_cue_or_for_all_cues(qtbot, window, tmp_path) -> None:
    pane, sliders = window.timeline_pane, window.query_pane
    with qtbot.waitSignal(window.s.search.results_changed, timeout=10000):
        window.s.timeline.open(str(make_timeline(tmp_path)))
    sliders.set_slider_values((100, 0, 0, 0))
    sliders.bpm_min.setValue(90)
    pane.table.selectRow(1)
    assert sliders.slider_values() == (100, 0, 0, 0)  # off: one setting for all cues
    assert window.s.search.filters.bpm_min == 90
    pane.per_cue.setChecked(True)
    sliders.set_slider_values((0, 0, 0, 100))  # cue 1's own
    sliders.bpm_min.setValue(120)
    pane.table.selectRow(0)
    assert sliders.slider_values() == (0, 0, 0, 100)  # cue 0 has none yet: starts from these
    assert sliders.bpm_min.value() == 120
    sliders.set_slider_values((0, 100, 0, 0))
    sliders.bpm_min.setValue(0)  # "any"
    sliders.diverse.setChecked(False)
    pane.table.selectRow(1)
    assert sliders.slider_values() == (0, 0, 0, 100)
    assert window.s.search.weights.tempo == 1.0 and window.s.search.weights.mood == 0.0
    assert window.s.search.filters.bpm_min == 120 and window.s.search.filters.max_per_group is not None
    pane.table.selectRow(0)
    assert sliders.slider_values() == (0, 100, 0, 0)
    assert window.s.search.filters.bpm_min is None and window.s.search.filters.max_per_group is None
