"""Services wired to fakes, and the fixture that fails a test leaving threads busy."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from PySide6.QtCore import QThreadPool

from app.services import workers
from app.services.app_services import Services
from app.services.library_service import LibraryService
from app.services.playback_service import PlaybackService
from app.services.search_service import SearchService
from app.services.settings import Settings
from app.services.timeline_service import TimelineService
from app.services.training_service import TrainingService
from app.services.workers import ErrorSink, Pools
from tests.app.services.fakes import (
    FakeLibrary,
    FakeSearch,
    FakeTraining,
    SilentPlayer,
    read_audio,
    write_tone,
)

TRACKS = {
    # name: per-dimension cosine with any query (fixed so rankings are predictable)
    "genre_twin": {"genre": 0.95, "mood": 0.10, "instrument": 0.20, "tempo": 0.00},
    "tempo_twin": {"genre": 0.05, "mood": 0.20, "instrument": 0.10, "tempo": 0.98},
    "mood_twin": {"genre": 0.10, "mood": 0.90, "instrument": 0.60, "tempo": 0.10},
    "middling": {"genre": 0.50, "mood": 0.50, "instrument": 0.50, "tempo": 0.50},
}


def make_services(tmp_path: Path, search_delay_s: float = 0.0, index_steps: int = 20) -> Services:
    settings = Settings(tmp_path / "config" / "soundalike.ini")
    pools, errors = Pools(), ErrorSink()
    search_backend = FakeSearch(TRACKS, tmp_path / "lib", delay_s=search_delay_s)
    for i, name in enumerate(TRACKS):
        write_tone(tmp_path / "lib" / f"{name}.wav", 40.0, freq=220.0 * (i + 1))
    library_backend = FakeLibrary(search_backend, steps=index_steps)
    training_backend = FakeTraining()
    player = SilentPlayer()
    search = SearchService(search_backend, pools, errors, read_audio, k=10)
    playback = PlaybackService(player, pools, errors)
    library = LibraryService(lambda: library_backend, settings, pools, errors)
    training = TrainingService(lambda: training_backend, settings, pools, errors, models_dir=tmp_path / "models")
    return Services(settings, pools, errors, library, search, playback, training, TimelineService(pools, errors))


@pytest.fixture(autouse=True)
def no_dangling_threads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Pools]]:
    """Fail any test that leaves a worker running on one of its pools or the global pool."""
    created: list[Pools] = []
    original = Pools.__init__

    def recording_init(self: Pools) -> None:
        original(self)
        created.append(self)

    monkeypatch.setattr(Pools, "__init__", recording_init)
    yield created
    busy = [
        name
        for pools in created
        for name in workers.POOL_NAMES
        if pools.pool(name).activeThreadCount()
    ]
    if QThreadPool.globalInstance().activeThreadCount():
        busy.append("global")
    for pools in created:
        pools.shutdown(5000)  # clean up so one failure does not cascade
    assert not busy, f"test left threads busy on pools: {busy}"


@pytest.fixture
def services(tmp_path: Path, qapp: object) -> Iterator[Services]:
    s = make_services(tmp_path)
    yield s
    s.pools.wait(3000)  # work that ends by itself may finish; a hung or endless job fails the test
    busy = [name for name in workers.POOL_NAMES if s.pools.pool(name).activeThreadCount()]
    s.shutdown()
    assert not busy, f"test ended with workers still running on: {busy}"
