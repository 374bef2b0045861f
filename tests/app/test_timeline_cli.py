"""`soundalike cues` and `soundalike conform` on timelines the test builds, per adapter.

The library is three synthesised tracks; each temp file is a region of one of them, and
each cue a region of a temp file that starts exactly on the library track's window grid
(the random-init test network maps the same audio to the same vectors, not similar audio
to similar ones). The timeline has a video track and two music cues on one audio track.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest

from app.cli import main
from app.core.timeline import TimelineError, list_cues, read_timeline, write_timeline
from tests.app.library_helpers import WINDOW_S, make_model
from tests.synth_audio import music_like, write_audio

RATE = 25  # frames per second of the test timelines
SR = 22050
WINDOW = 65536
# (library track, first library window of the cue, cue's source in (s), cue's duration (s), record in (s))
CUES = [(1, 3, 6.0, 12.0, 4.0), (2, 5, 3.0, 10.0, 18.0)]


def _time(seconds: float) -> otio.opentime.RationalTime:
    return otio.opentime.RationalTime(round(seconds * RATE), RATE)


def _range(start: float, duration: float) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(_time(start), _time(duration))


def _ref(path: Path, seconds: float) -> otio.schema.ExternalReference:
    return otio.schema.ExternalReference(target_url=path.as_uri(), available_range=_range(0, seconds))


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """(db, model, library paths, temp folder, the timeline)."""
    base = tmp_path_factory.mktemp("timeline")
    model = make_model(base / "m.pt")
    library = []
    (base / "music").mkdir()
    (base / "temp").mkdir()
    for i in range(3):
        samples = music_like(45.0, seed=10 + i, bpm=80 + 20 * i)
        library.append(write_audio(base / "music" / f"song{i}.wav", samples, sr=SR, subtype="PCM_16"))
    db = base / "lib.db"
    assert main(["index", str(base / "music"), "--db", str(db), "--model", str(model), "--workers", "0"]) == 0
    import soundfile as sf

    timeline = otio.schema.Timeline(name="cut")
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(otio.schema.Clip(name="shot1", media_reference=_ref(base / "shot1.mov", 120.0),
                                  source_range=_range(10.0, 40.0)))
    audio = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    at = 0.0
    for n, (song, window, source_in, duration, record_in) in enumerate(CUES):
        samples, _ = sf.read(library[song], dtype="float32")
        first = window * WINDOW - int(source_in * SR)  # the cue's source in lands on the grid
        temp = write_audio(base / "temp" / f"temp{n + 1}.wav", samples[first : first + 30 * SR],
                           sr=SR, subtype="PCM_16")
        audio.append(otio.schema.Gap(source_range=_range(0, record_in - at)))
        audio.append(otio.schema.Clip(name=f"temp{n + 1}", media_reference=_ref(temp, 30.0),
                                      source_range=_range(source_in, duration)))
        at = record_in + duration
    timeline.tracks.append(video)
    timeline.tracks.append(audio)
    return db, model, library, base / "temp", timeline


def _cues(capsys, project, timeline_path: Path, *extra: str) -> list[dict]:
    db, model, *_ = project
    assert main(["cues", str(timeline_path), "--db", str(db), "--model", str(model), "-k", "3",
                 "--json", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def _check_cues(found: list[dict], library: list[Path]) -> None:
    assert [c["cue"]["index"] for c in found] == [0, 1]
    for entry, (song, window, source_in, duration, record_in) in zip(found, CUES, strict=True):
        cue = entry["cue"]
        assert set(cue) == {"index", "name", "track", "source", "source_in_s", "source_out_s", "record_in_s"}
        assert cue["source_in_s"] == pytest.approx(source_in)
        assert cue["source_out_s"] == pytest.approx(source_in + duration)
        assert cue["record_in_s"] == pytest.approx(record_in)
        top = entry["results"][0]
        assert Path(top["path"]) == library[song]
        assert abs(top["offset_s"] - window * WINDOW_S) <= 3.0


@pytest.mark.parametrize("suffix", [".otio", ".xml", ".fcpxml", ".edl", ".aaf"])
def test_cues_and_conform_round_trip(project, tmp_path, capsys, suffix) -> None:
    db, model, library, _, timeline = project
    source = tmp_path / f"cut{suffix}"
    write_timeline(timeline, source)  # EDL and AAF through the project's writers (audio kept)
    _check_cues(_cues(capsys, project, source), library)

    # Cue 1 gets an explicit choice; cue 0 takes its top result.
    choices = tmp_path / "choices.json"
    choices.write_text(json.dumps({"1": {"path": str(library[0]), "offset_s": 7.5}}))
    out = tmp_path / f"conformed{suffix}"
    assert main(["conform", str(source), "-o", str(out), "--choices", str(choices),
                 "--db", str(db), "--model", str(model)]) == 0
    before, after = read_timeline(source), read_timeline(out)
    assert len(after.video_tracks()) == 1
    v_before, v_after = before.video_tracks()[0].find_clips()[0], after.video_tracks()[0].find_clips()[0]
    assert v_after.name == v_before.name and v_after.source_range == v_before.source_range
    assert v_after.range_in_parent() == v_before.range_in_parent()
    clips_before = list(before.audio_tracks()[0].find_clips())
    clips_after = list(after.audio_tracks()[0].find_clips())
    for old, new in zip(clips_before, clips_after, strict=True):
        assert new.range_in_parent() == old.range_in_parent()  # record position and duration
    assert Path(otio.url_utils.filepath_from_url(clips_after[0].media_reference.target_url)) == library[1]
    assert Path(otio.url_utils.filepath_from_url(clips_after[1].media_reference.target_url)) == library[0]
    assert clips_after[0].source_range.start_time.to_seconds() == pytest.approx(3 * WINDOW_S, abs=3.0)
    assert clips_after[1].source_range.start_time.to_seconds() == pytest.approx(7.5, abs=1 / RATE)


def test_edl_media_is_found_by_clip_name_and_record_times_count_from_the_hour(project, tmp_path, capsys) -> None:
    """Music starts 4 s after the record start (01:00:00:00); the conformed EDL keeps both tracks."""
    _, _, library, temp_dir, _ = project
    edl = tmp_path / "cut.edl"
    edl.write_text(
        "TITLE: cut\nFCM: NON-DROP FRAME\n\n"
        "001  SHOT1    V     C        00:00:10:00 00:00:50:00 01:00:00:00 01:00:40:00\n"
        "* FROM CLIP NAME: shot1.mov\n\n"
        "002  TEMP1    A     C        00:00:06:00 00:00:18:00 01:00:04:00 01:00:16:00\n"
        "* FROM CLIP NAME: temp1.wav\n\n"
        "003  TEMP2    A     C        00:00:03:00 00:00:13:00 01:00:18:00 01:00:28:00\n"
        "* FROM CLIP NAME: temp2.wav\n"
    )
    found = _cues(capsys, project, edl, "--media-dir", str(temp_dir))
    assert [Path(c["cue"]["source"]).name for c in found] == ["temp1.wav", "temp2.wav"]
    assert [c["cue"]["record_in_s"] for c in found] == [4.0, 18.0]
    for entry, (song, window, *_) in zip(found, CUES, strict=True):
        assert Path(entry["results"][0]["path"]) == library[song]
        assert abs(entry["results"][0]["offset_s"] - window * WINDOW_S) <= 3.0
    db, model, *_ = project
    out = tmp_path / "out.edl"
    assert main(["conform", str(edl), "-o", str(out), "--media-dir", str(temp_dir),
                 "--db", str(db), "--model", str(model)]) == 0
    text = out.read_text()
    assert "01:00:00:00 01:00:40:00" in text  # the video event as it was
    conformed = read_timeline(out)
    assert conformed.global_start_time.to_seconds() == 3600
    clips = list(conformed.audio_tracks()[0].find_clips())
    assert [c.range_in_parent().start_time.to_seconds() for c in clips] == [4.0, 18.0]
    assert [c.duration().to_seconds() for c in clips] == [12.0, 10.0]
    paths = [Path(otio.url_utils.filepath_from_url(c.media_reference.target_url)) for c in clips]
    assert paths == [library[1], library[2]]
    v_clip = conformed.video_tracks()[0].find_clips()[0]
    assert v_clip.name == "shot1.mov" and v_clip.source_range.start_time.to_seconds() == 10.0


def test_edl_and_aaf_keep_each_audio_track(tmp_path) -> None:
    """A1 and A2 come back as the same tracks (EDL channels A and A2); reel names with spaces
    stay parseable."""
    timeline = otio.schema.Timeline(name="two tracks")
    for n in range(2):
        track = otio.schema.Track(name=f"A{n + 1}", kind=otio.schema.TrackKind.Audio)
        track.append(otio.schema.Gap(source_range=_range(0, 2.0 + n)))
        track.append(otio.schema.Clip(name=f"music {n}", media_reference=_ref(tmp_path / f"my song {n}.wav", 60),
                                      source_range=_range(5.0, 8.0)))
        timeline.tracks.append(track)
    write_timeline(timeline, tmp_path / "cut.edl")
    events = [line.split() for line in (tmp_path / "cut.edl").read_text().splitlines() if line[:1].isdigit()]
    assert [(e[0], e[1], e[2]) for e in events] == [("001", "mysong0", "A"), ("002", "mysong1", "A2")]
    back = read_timeline(tmp_path / "cut.edl")
    assert [t.name for t in back.audio_tracks()] == ["A1", "A2"]
    starts = [t.find_clips()[0].range_in_parent().start_time.to_seconds() for t in back.audio_tracks()]
    assert starts == [2.0, 3.0]
    write_timeline(timeline, tmp_path / "cut.aaf")  # the AAF reader calls both tracks "Sequence"
    aaf_cues = list_cues(read_timeline(tmp_path / "cut.aaf"), tracks={"A2"})
    assert [(c.track, c.record_in_s, c.source_in_s) for c in aaf_cues] == [("A2", 3.0, 5.0)]


def test_aaf_refuses_transitions_it_cannot_describe(tmp_path) -> None:
    timeline = otio.schema.Timeline(name="dissolve")
    track = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    for n in range(2):
        track.append(otio.schema.Clip(name=f"c{n}", media_reference=_ref(tmp_path / f"c{n}.wav", 30),
                                      source_range=_range(5.0, 8.0)))
    track.insert(1, otio.schema.Transition(in_offset=_time(1.0), out_offset=_time(1.0)))
    timeline.tracks.append(track)
    with pytest.raises(TimelineError, match="the AAF writer needs Avid's parameters for transitions"):
        write_timeline(timeline, tmp_path / "cut.aaf")
    assert not list(tmp_path.glob("*.aaf"))


def test_track_choice_and_clear_errors(project, tmp_path, capsys) -> None:
    db, model, _, _, timeline = project
    source = tmp_path / "cut.otio"
    otio.adapters.write_to_file(timeline, str(source))
    assert main(["cues", str(source), "--db", str(db), "--model", str(model), "--track", "Music"]) == 2
    assert "no clips on track(s) Music; audio tracks: A1" in capsys.readouterr().err
    assert main(["cues", str(tmp_path / "missing.xml"), "--db", str(db), "--model", str(model)]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["conform", str(source), "-o", str(tmp_path / "out.mov"), "--db", str(db),
                 "--model", str(model)]) == 2
    assert "unknown timeline format" in capsys.readouterr().err
    assert not np.any([p.name.startswith(".out") for p in tmp_path.iterdir()])  # no temp file left
