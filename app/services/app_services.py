"""The bundle of services the UI is given (real ones from ``bootstrap``, fakes in tests)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.services.library_service import LibraryService
from app.services.playback_service import PlaybackService
from app.services.search_service import SearchService
from app.services.settings import Settings
from app.services.timeline_service import TimelineService
from app.services.training_service import TrainingService
from app.services.workers import ErrorSink, GeneratorWorker, Pools


@dataclass
class Services:
    settings: Settings
    pools: Pools
    errors: ErrorSink
    library: LibraryService
    search: SearchService
    playback: PlaybackService
    training: TrainingService
    timeline: TimelineService
    log_file: str = ""
    warm_up_job: Callable[[], None] | None = None

    def __post_init__(self) -> None:
        # A changed library (indexing, a sync) is a new search engine: moves are prepared anew.
        self.library.summary_changed.connect(self.search.library_changed)

    def warm_up(self) -> None:
        """Load the heavy parts (model, index) in the background once the window shows."""
        if self.warm_up_job is not None:
            worker = GeneratorWorker(self.warm_up_job, task="loading the model")
            worker.signals.errored.connect(self.errors.report)
            self.pools.start("encode", worker)

    def shutdown(self) -> None:
        """Stop audio, abort background jobs, join every pool, flush settings (on quit)."""
        self.playback.shutdown()
        self.search.stop_preparing()
        self.library.stop_sync()
        self.library.cancel()
        self.training.stop_for_quit()
        if self.pools.shutdown():
            self.library.close()  # only once no worker can still be writing to it
        self.settings.sync()
