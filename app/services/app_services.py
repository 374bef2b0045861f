"""The bundle of services the UI is given (real ones from ``bootstrap``, fakes in tests)."""

from __future__ import annotations

from dataclasses import dataclass

from app.services.library_service import LibraryService
from app.services.playback_service import PlaybackService
from app.services.search_service import SearchService
from app.services.settings import Settings
from app.services.training_service import TrainingService
from app.services.workers import ErrorSink, Pools


@dataclass
class Services:
    settings: Settings
    pools: Pools
    errors: ErrorSink
    library: LibraryService
    search: SearchService
    playback: PlaybackService
    training: TrainingService
    log_file: str = ""

    def shutdown(self) -> None:
        """Stop audio, abort background jobs, join every pool, flush settings (on quit)."""
        self.playback.shutdown()
        self.library.cancel()
        self.training.cancel()
        self.pools.shutdown()
        self.settings.sync()
