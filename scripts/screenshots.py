#!/usr/bin/env python3
"""Launch the real app on a library with a query loaded and save screenshots.

    xvfb-run -a -s "-screen 0 1440x900x24" .venv/bin/python scripts/screenshots.py

Defaults: the demo library (resources/demo), the shipped model, a demo clip as the
query, output in docs/screenshots/. Runs in a fresh temporary data/config dir (first
launch), indexes the library with the real indexer and encoder, then saves
main.png (results), map.png (library map), trainer.png (trainer dialog) and timeline.png
(timeline mode on a cut whose temp cues are excerpts of library tracks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fresh_home import fresh_home  # noqa: E402 - scripts/, next to this file

AUDIO = {".wav", ".flac", ".ogg", ".mp3"}


def wait(app, predicate, timeout_s: float, what: str) -> None:  # noqa: ANN001
    end = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit(f"screenshots: timed out waiting for {what}")
        app.processEvents()
        time.sleep(0.02)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--library", default=str(ROOT / "resources" / "demo"))
    parser.add_argument("--query", help="clip to load as the query (default: a file from the library)")
    parser.add_argument("--model", help="model file (default: the shipped model)")
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--train-source", help="folder or CSV to show in the trainer dialog")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--real-audio", action="store_true",
                        help="use the machine's sound device (default: ALSA's null sink, so a box "
                             "without a sound card still shows working playback)")
    parser.add_argument("--train-epochs", type=int, default=0,
                        help="run a real (short) fine-tuning in the dialog before its screenshot")
    parser.add_argument("--train-steps", type=int, default=0, help="steps per epoch for that run (0: all)")
    parser.add_argument("--sliders", help="slider values genre,mood,instrument,tempo (0-100) for main.png")
    parser.add_argument("--main-only", action="store_true", help="only main.png (no map, no trainer)")
    parser.add_argument("--timeline-only", action="store_true", help="only timeline.png")
    args = parser.parse_args()

    fresh_home("soundalike-shots-", args.model, null_audio=not args.real_audio)

    from PySide6.QtWidgets import QApplication

    from app.services.bootstrap import build_services
    from app.ui.main_window import MainWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("soundalike")
    services = build_services()
    window = MainWindow(services)
    window.resize(1440, 860)
    window.show()
    library = Path(args.library).resolve()
    files = sorted(p for p in library.rglob("*") if p.suffix.lower() in AUDIO)
    if not files:
        raise SystemExit(f"screenshots: no audio files in {library}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    done = {"indexed": False}
    services.library.indexing_finished.connect(lambda _m: done.__setitem__("indexed", True))
    for other in services.library.folders():  # show this library alone (first launch adds the demo)
        if other != str(library):
            services.library.remove_folder(other)
    if str(library) not in services.library.folders():
        services.library.add_folder(str(library))
    else:
        services.library.rescan()
    started = time.monotonic()
    wait(app, lambda: done["indexed"], args.timeout, "indexing")
    print(f"indexed {len(files)} files in {time.monotonic() - started:.1f} s", file=sys.stderr)

    if args.timeline_only:
        shoot_timeline(app, window, services, files, out)
        services.shutdown()
        window.close()
        return 0

    query = Path(args.query).resolve() if args.query else files[len(files) // 3]
    got = {"results": False}
    services.search.results_changed.connect(lambda r: got.__setitem__("results", bool(r)))
    window.load_query(str(query))
    wait(app, lambda: got["results"], 120, "results")
    if args.sliders:
        window.query_pane.set_slider_values(tuple(int(v) for v in args.sliders.split(",")))
    window.results.selectRow(0)
    window.results.setFocus()
    started = {"ok": False}
    services.playback.source_changed.connect(lambda *_a: started.__setitem__("ok", True))
    window.play_selected()
    wait(app, lambda: started["ok"], 60, "playback to start")
    services.playback.pause()  # the null sink plays instantly: show it paused at the match
    result = window.results.current_result()
    services.playback.seek(result.offset_s + 4.0 if result else 0.0)
    for _ in range(30):
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(out / "main.png"))
    if args.main_only:
        services.shutdown()
        window.close()
        return 0

    mapped = {"ok": False}
    services.library.map_ready.connect(lambda _d: mapped.__setitem__("ok", True))
    window.tabs.setCurrentWidget(window.map_view)
    wait(app, lambda: mapped["ok"], 300, "the library map")
    for _ in range(10):
        app.processEvents()
    window.grab().save(str(out / "map.png"))
    window.tabs.setCurrentIndex(0)

    window.open_trainer()
    dialog = window.trainer
    assert dialog is not None
    source = args.train_source or str(library)
    csvs = sorted(library.glob("*.csv"))
    if args.train_source is None and csvs:
        dialog.mode.setCurrentIndex(dialog.mode.findData("csv"))
        source = str(csvs[0])
    dialog.source.setText(source)
    dialog._summarize()
    wait(app, lambda: dialog.found.text() not in ("", "reading…"), 120, "the training source summary")
    if args.train_epochs:
        trained = {"done": False}
        services.training.training_finished.connect(lambda _o: trained.__setitem__("done", True))
        services.training.training_failed.connect(lambda m: sys.exit(f"screenshots: training failed: {m}"))
        dialog.epochs.setValue(args.train_epochs)
        dialog.start.setEnabled(False)
        dialog.cancel.setEnabled(True)
        services.training.start(source, dialog.mode.currentData(), args.train_epochs,
                                dialog.device.currentText(), args.train_steps)
        wait(app, lambda: trained["done"], args.timeout, "training")
    for _ in range(10):
        app.processEvents()
    dialog.grab().save(str(out / "trainer.png"))
    dialog.close()
    shoot_timeline(app, window, services, files, out)
    services.shutdown()
    window.close()
    print(f"saved {', '.join(p.name for p in sorted(out.glob('*.png')))} to {out}", file=sys.stderr)
    return 0


def make_timeline(files: list[Path], folder: Path) -> Path:
    """An .otio cut: a video track and three temp-music cues, regions of temp files that are
    themselves excerpts of library tracks (as a temp track often is)."""
    import opentimelineio as otio
    import soundfile as sf

    from model.audio import SAMPLE_RATE, load_audio

    def span(start: float, duration: float) -> otio.opentime.TimeRange:
        return otio.opentime.TimeRange(otio.opentime.RationalTime(start * 25, 25),
                                       otio.opentime.RationalTime(duration * 25, 25))

    timeline = otio.schema.Timeline(name="trailer_v3")
    video = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    video.append(otio.schema.Clip(name="trailer_v3.mov", source_range=span(0, 60)))
    audio = otio.schema.Track(name="Temp music", kind=otio.schema.TrackKind.Audio)
    at = 0.0
    for n, (source, record, seconds) in enumerate(zip(files[1::12][:3], (0.0, 18.0, 38.0), (16.0, 18.0, 20.0), strict=True)):
        temp = folder / f"temp_cue_{n + 1}.wav"
        sf.write(temp, load_audio(source, offset_s=3.0, duration_s=seconds + 4.0), SAMPLE_RATE)
        if record > at:
            audio.append(otio.schema.Gap(source_range=span(0, record - at)))
        audio.append(otio.schema.Clip(name=f"temp cue {n + 1}", source_range=span(2.0, seconds),
                                      media_reference=otio.schema.ExternalReference(target_url=temp.as_uri())))
        at = record + seconds
    timeline.tracks.extend([video, audio])
    path = folder / "trailer_v3.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


def shoot_timeline(app, window, services, files: list[Path], out: Path) -> None:  # noqa: ANN001
    """timeline.png: the cue list with the first cue picked and the second cue's results."""
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="soundalike-cut-"))
    got = {"results": False}
    services.search.results_changed.connect(lambda r: got.__setitem__("results", bool(r)))
    services.timeline.open(str(make_timeline(files, folder)))
    wait(app, lambda: got["results"], 120, "the first cue's results")
    window.results.selectRow(0)
    window.timeline_pane.pick_selected()
    got["results"] = False
    window.timeline_pane.table.selectRow(1)
    wait(app, lambda: got["results"], 120, "the second cue's results")
    window.results.selectRow(0)
    for _ in range(30):
        app.processEvents()
        time.sleep(0.02)
    window.grab().save(str(out / "timeline.png"))


if __name__ == "__main__":
    sys.exit(main())
