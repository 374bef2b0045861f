"""Qt adapter over ``core.player.Player``: a QTimer polls the position; decoding happens on
the decode pool, ahead of the selection, so auditioning never waits (house rule 7)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from app.services.backends import PlayerLike
from app.services.workers import ErrorSink, GeneratorWorker, Pools

log = logging.getLogger(__name__)

POLL_MS = 40  # position updates 25×/s: smooth bar, negligible GUI cost
PREFETCH_AHEAD = 3  # results decoded ahead of the selection


class PlaybackService(QObject):
    position_changed = Signal(float, float)  # position_s, duration_s
    state_changed = Signal(bool)  # playing
    source_changed = Signal(str, str)  # path, role ("query" or "result")
    availability_changed = Signal(bool, str)  # available, reason

    def __init__(self, player: PlayerLike, pools: Pools, errors: ErrorSink) -> None:
        super().__init__()
        self.player = player
        self._pools = pools
        self._errors = errors
        self._request = 0
        self.role = ""
        self.path = ""
        self.region: tuple[float, float] | None = None
        self._was_playing = False
        self._next: tuple[str, float, str] | None = None  # played when the current region ends
        self._decoding: set[str] = set()
        self._timer = QTimer(self)
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)

    @property
    def available(self) -> bool:
        return self.player.available

    @property
    def reason(self) -> str:
        return self.player.reason

    # -- transport ------------------------------------------------------------------------
    def play(self, path: str, offset_s: float = 0.0, role: str = "result", end_s: float | None = None) -> None:
        """Play ``path`` from ``offset_s``; decodes on the decode pool first if needed."""
        self._next = None
        self._request += 1
        request = self._request
        self.role, self.path = role, path
        self.region = (offset_s, end_s) if end_s is not None else None
        if self.player.cache.get(path) is not None:
            self._start(request, path, offset_s, end_s)
            return
        worker = GeneratorWorker(self.player.cache.load, path, task="decoding the track")
        worker.signals.finished.connect(lambda _s, r=request: self._start(r, path, offset_s, end_s))
        worker.signals.errored.connect(self._errors.report)
        self._pools.start("decode", worker)

    def _start(self, request: int, path: str, offset_s: float, end_s: float | None) -> None:
        if request != self._request:
            return  # the user moved on before the decode finished
        was_available = self.player.available
        ok = self.player.play(path, offset_s, end_s)
        self.source_changed.emit(path, self.role)
        if not ok and was_available:
            self.availability_changed.emit(False, self.player.reason)
            self._errors.report(self.player.reason)
        self._timer.start()
        self._poll()

    def play_then(self, first: tuple[str, float, float], then: tuple[str, float]) -> None:
        """Play ``first`` = (path, start, end) as the query, then ``then`` = (path, offset) as
        the result (timeline mode: the temp cue, then its replacement from its match)."""
        path, start, end = first
        self.play(path, start, role="query", end_s=end)
        self._next = (then[0], then[1], "result")
        self.prefetch([then[0]])

    def toggle(self) -> None:
        self.player.toggle()
        if self.player.is_playing:
            self._timer.start()
        self._poll()

    def pause(self) -> None:
        self.player.pause()
        self._poll()

    def stop(self) -> None:
        self._request += 1
        self.player.stop()
        self._poll()
        self._timer.stop()

    def seek(self, position_s: float) -> None:
        self.player.seek(max(0.0, position_s))
        self._poll()

    def seek_relative(self, delta_s: float) -> None:
        self.seek(self.player.position_s + delta_s)

    @property
    def position_s(self) -> float:
        return self.player.position_s

    @property
    def duration_s(self) -> float:
        return self.player.duration_s

    @property
    def is_playing(self) -> bool:
        return self.player.is_playing

    # -- decode-ahead ---------------------------------------------------------------------
    def prefetch(self, paths: Sequence[str]) -> None:
        """Decode the next few results in the background (skips what is cached)."""
        for path in list(paths)[:PREFETCH_AHEAD]:
            if path and path not in self._decoding and self.player.cache.get(path) is None:
                self._decoding.add(path)  # slider drags re-rank often: never queue a path twice
                worker = GeneratorWorker(self.player.cache.load, path, task="decoding ahead")
                worker.signals.finished.connect(lambda _s, p=path: self._decoding.discard(p))
                worker.signals.errored.connect(lambda msg, p=path: self._prefetch_failed(p, msg))
                self._pools.start("decode", worker)

    def _prefetch_failed(self, path: str, message: str) -> None:
        self._decoding.discard(path)
        log.info("prefetch: %s", message)

    # -- devices --------------------------------------------------------------------------
    def set_level_match(self, on: bool) -> None:
        """Level-matched audition on or off (from the next ``play``)."""
        self.player.level_match = on

    def output_devices(self) -> list[tuple[int, str]]:
        return [(d.index, d.name) for d in self.player.output_devices()]

    def set_output_device(self, index: int | None) -> None:
        self.player.set_device(index)
        self.availability_changed.emit(self.player.available, self.player.reason)

    def shutdown(self) -> None:
        self._timer.stop()
        self.player.stop()

    def _poll(self) -> None:
        playing = self.player.is_playing
        self.position_changed.emit(self.player.position_s, self.player.duration_s)
        if playing != self._was_playing:
            self._was_playing = playing
            self.state_changed.emit(playing)
            ended = self.region is not None and self.player.position_s >= self.region[1] - 0.05
            if not playing and ended and self._next is not None:
                path, offset, role = self._next
                self.play(path, offset, role)
                return
        if not playing and not self.player.stream_active:
            self._timer.stop()


def ab_target(
    role: str, position_s: float, region: tuple[float, float], result_offset_s: float
) -> tuple[str, float]:
    """Where A/B switching lands: the other side at the same position relative to its start.

    The query side starts at its region's in-point, a result at its matched offset; the
    query side is clamped to the region so A/B always compares the parts that matched.
    """
    if role == "query":
        return "result", result_offset_s + max(0.0, position_s - region[0])
    relative = max(0.0, position_s - result_offset_s)
    length = max(0.0, region[1] - region[0])
    return "query", region[0] + (relative % length if length > 0 else 0.0)
