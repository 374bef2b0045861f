"""Workers (abort between yields, errors to one sentence, throttled progress) and settings."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from PySide6.QtCore import QSettings

from app.services.playback_service import ab_target
from app.services.settings import SCHEMA_VERSION, Settings
from app.services.workers import GeneratorWorker, Pools, UserFacingError, describe_error


def counting(n: int, step_s: float, started: threading.Event):
    started.set()
    for i in range(n):
        time.sleep(step_s)
        yield i
    return "all done"


def test_generator_worker_reports_progress_and_its_return_value(qtbot) -> None:
    pools = Pools()
    worker = GeneratorWorker(counting, 5, 0.0, threading.Event(), task="counting")
    seen: list[int] = []
    worker.signals.progress_changed.connect(seen.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=5000) as blocker:
        pools.start("io", worker)
    assert blocker.args == ["all done"]
    assert seen and seen[-1] == 4  # throttled, but the last progress always arrives
    assert pools.wait(2000)


def test_abort_stops_between_yields(qtbot) -> None:
    pools = Pools()
    started = threading.Event()
    worker = GeneratorWorker(counting, 10_000, 0.005, started, task="counting")
    pools.start("io", worker)
    assert started.wait(5)
    t0 = time.monotonic()
    with qtbot.waitSignal(worker.signals.aborted, timeout=5000):
        worker.abort()
    assert time.monotonic() - t0 < 1.0
    assert pools.wait(2000)


def test_errors_become_one_sentence(qtbot) -> None:
    def broken():
        yield 1
        raise ValueError("disk full\nsecond line")

    pools = Pools()
    worker = GeneratorWorker(broken, task="indexing the library")
    with qtbot.waitSignal(worker.signals.errored, timeout=5000) as blocker:
        pools.start("io", worker)
    message = blocker.args[0]
    assert message == "Indexing the library failed (disk full); details are in the log file."
    assert "Traceback" not in message
    assert describe_error(UserFacingError("No model."), "x") == "No model."
    assert pools.wait(2000)


def test_shutdown_aborts_running_jobs(qtbot) -> None:
    pools = Pools()
    started = threading.Event()
    pools.start("train", GeneratorWorker(counting, 10_000, 0.005, started))
    assert started.wait(5)
    assert pools.busy
    assert pools.shutdown(5000)
    assert not pools.busy


def test_settings_are_typed_with_defaults_and_persist(tmp_path: Path, qapp) -> None:
    path = tmp_path / "s.ini"
    settings = Settings(path)
    assert settings.get("setting/library_folders") == ()
    assert settings.get("setting/top_k") == 50
    settings.set("setting/library_folders", ["/music/a", "/music/b c"])
    settings.set("setting/top_k", 25)
    settings.set("persist/geometry", b"\x01\x02")
    settings.sync()
    again = Settings(path)
    assert again.get("setting/library_folders") == ("/music/a", "/music/b c")
    assert again.get("setting/top_k") == 25
    assert again.get("persist/geometry") == b"\x01\x02"
    with pytest.raises(KeyError):
        again.get("setting/nope")


def test_settings_migrate_from_version_1(tmp_path: Path, qapp) -> None:
    path = tmp_path / "old.ini"
    old = QSettings(str(path), QSettings.Format.IniFormat)
    old.setValue("library/folders", ["/old/music"])
    for name, value in (("genre", 100), ("mood", 0), ("instrument", 50), ("tempo", 25)):
        old.setValue(f"sliders/{name}", value)
    old.sync()
    settings = Settings(path)
    assert settings.get("setting/library_folders") == ("/old/music",)
    assert settings.get("persist/weights") == "genre=1,mood=0,instrument=0.5,tempo=0.25"
    assert QSettings(str(path), QSettings.Format.IniFormat).value("meta/schema_version") in (SCHEMA_VERSION, str(SCHEMA_VERSION))


def test_ab_target_keeps_the_relative_position() -> None:
    region, offset = (40.0, 60.0), 12.0
    assert ab_target("query", 45.0, region, offset) == ("result", 17.0)
    assert ab_target("result", 17.0, region, offset) == ("query", 45.0)
    assert ab_target("result", 12.0 + 25.0, region, offset) == ("query", 45.0)  # wraps inside the region
