"""Qt-free playback engine: a PortAudio output stream fed from a preloaded buffer.

Why preloaded: the PortAudio callback runs on a real-time thread and must never
decode, allocate much, or wait on I/O. Everything it needs (a float32 mono buffer
and a read position) is prepared beforehand and swapped in under a short lock; the
callback only copies a block. ``services/playback_service.py`` wraps this with a
QTimer and signals (house rule 7); nothing here touches Qt.

Level matching (on by default, ``Player.level_match``): every source plays at the same
integrated loudness, ``TARGET_LUFS``, so an A/B between the query and a result compares the
music, not its level. Loudness is measured (model.loudness, BS.1770) when a file is decoded
into the cache, on the decoder's output, so the query and every result are measured alike.
The target is low enough that most music is turned down, not up (no clipping); quiet
material is raised by at most ``MAX_GAIN_DB``.

If PortAudio (Debian ``libportaudio2``) is missing, or the output device fails,
``Player.available`` is False and ``Player.reason`` says why and how to fix it;
every method stays callable and does nothing, so the app keeps working.
"""

from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.constants import SAMPLE_RATE  # the rate model.audio decodes to, so buffers are shared

BLOCK_FRAMES = 1024  # frames per callback (46 ms at 22.05 kHz): low latency, no underruns
TARGET_LUFS = -23.0  # loudness every source plays at when level matching (EBU R128's target)
MAX_GAIN_DB = 12.0  # never raise a quiet source more than this (near-silence stays quiet)
FIX_PORTAUDIO = "install PortAudio (sudo apt-get install libportaudio2) and restart"

log = logging.getLogger(__name__)

Loader = Callable[[str], np.ndarray]


def default_loader(path: str) -> np.ndarray:
    """Decode a whole file to float32 mono at SAMPLE_RATE with the model's decoder."""
    from model.audio import load_audio

    return np.ascontiguousarray(load_audio(path), dtype=np.float32)


def _loudness(samples: np.ndarray) -> float | None:
    from model.loudness import integrated_loudness

    return integrated_loudness(samples, SAMPLE_RATE)


def level_gain(loudness_lufs: float | None) -> float:
    """Linear gain that brings a source of ``loudness_lufs`` to ``TARGET_LUFS`` (1 if unknown)."""
    if loudness_lufs is None:
        return 1.0
    return float(10 ** (min(TARGET_LUFS - loudness_lufs, MAX_GAIN_DB) / 20))


class DecodeCache:
    """Decoded tracks kept by path, least recently used dropped past ``max_bytes``.

    Not thread-safe by itself beyond a lock around the dict: decoding happens outside the
    lock so a slow file does not block lookups (services call ``load`` from a pool).
    """

    def __init__(self, loader: Loader = default_loader, max_bytes: int = 400 * 2**20) -> None:
        self._loader = loader
        self._max_bytes = max_bytes
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._loudness: dict[str, float | None] = {}
        self._lock = threading.Lock()

    def get(self, path: str) -> np.ndarray | None:
        with self._lock:
            samples = self._items.get(path)
            if samples is not None:
                self._items.move_to_end(path)
            return samples

    def load(self, path: str) -> np.ndarray:
        """Return the decoded track, decoding it now if it is not cached."""
        cached = self.get(path)
        if cached is not None:
            return cached
        samples = self._loader(path)
        loudness = _loudness(samples)  # here, off the GUI thread, not when play starts
        with self._lock:
            self._items[path] = samples
            self._loudness[path] = loudness
            total = sum(item.nbytes for item in self._items.values())
            while total > self._max_bytes and len(self._items) > 1:
                _, dropped = self._items.popitem(last=False)
                total -= dropped.nbytes
        return samples

    def loudness(self, path: str) -> float | None:
        """Integrated loudness (LUFS) of a file decoded into the cache; None if silent or unknown."""
        with self._lock:
            return self._loudness.get(path)

    def __contains__(self, path: str) -> bool:
        with self._lock:
            return path in self._items


@dataclass(frozen=True)
class OutputDevice:
    index: int
    name: str
    is_default: bool = False


class Player:
    """One output stream, one buffer, one position; all shared state under ``_lock``."""

    def __init__(self, cache: DecodeCache | None = None, sample_rate: int = SAMPLE_RATE) -> None:
        self.cache = cache or DecodeCache()
        self.sample_rate = sample_rate
        self.available = False
        self.reason = ""
        self._sd: Any = None
        self._device: int | None = None
        self._stream: Any = None
        self._lock = threading.Lock()
        self._buffer: np.ndarray | None = None
        self._pos = 0
        self._end = 0
        self._playing = False
        self._source = ""
        self._gain = 1.0
        self.level_match = True  # play every source at TARGET_LUFS (a setting turns it off)
        self._first_frame: int | None = None
        self._callbacks = 0
        self._underflows = 0
        try:
            import sounddevice

            self._sd = sounddevice
            self.available = True
        except (OSError, ImportError) as exc:  # OSError: libportaudio absent; ImportError: no module
            self.reason = f"Playback is unavailable: PortAudio was not found ({exc}); {FIX_PORTAUDIO}."
            log.warning(self.reason)

    # -- devices -----------------------------------------------------------------------
    def output_devices(self) -> list[OutputDevice]:
        if self._sd is None:
            return []
        try:
            devices = self._sd.query_devices()
            default_out = self._sd.default.device[1]
        except Exception as exc:  # noqa: BLE001 - any PortAudio failure means "no devices"
            log.warning("could not list audio devices: %s", exc)
            return []
        return [
            OutputDevice(i, str(d["name"]), i == default_out)
            for i, d in enumerate(devices)
            if d["max_output_channels"] > 0
        ]

    @property
    def device(self) -> int | None:
        return self._device

    def set_device(self, index: int | None) -> None:
        """Choose the output device (None = system default); a failed device may be retried."""
        self.stop()
        self._device = index
        if self._sd is not None:
            self.available, self.reason = True, ""

    # -- transport ---------------------------------------------------------------------
    def play(
        self,
        source: str | np.ndarray,
        offset_s: float = 0.0,
        end_s: float | None = None,
        label: str | None = None,
    ) -> bool:
        """Start playing ``source`` (a path, decoded via the cache, or samples) at ``offset_s``.

        Returns False (and sets ``reason``) when playback is unavailable or the device fails.
        A path that cannot be decoded raises the loader's error: the caller reports it.
        """
        if isinstance(source, str):
            samples = self.cache.load(source)
            label = label or source
            loudness = self.cache.loudness(source) if self.level_match else None
        else:
            samples = np.ascontiguousarray(source, dtype=np.float32)
            label = label or "<samples>"
            loudness = _loudness(samples) if self.level_match else None
        total = len(samples)
        start = int(np.clip(offset_s * self.sample_rate, 0, total))
        end = total if end_s is None else int(np.clip(end_s * self.sample_rate, start, total))
        with self._lock:
            self._buffer, self._pos, self._end = samples, start, end
            self._source, self._playing = label, True
            self._gain = level_gain(loudness)
            self._first_frame = None
        if not self.available:
            return False
        return self._ensure_stream()

    def pause(self) -> None:
        with self._lock:
            self._playing = False

    def resume(self) -> bool:
        with self._lock:
            if self._buffer is None or self._pos >= self._end:
                return False
            self._playing = True
        return self.available and self._ensure_stream()

    def toggle(self) -> bool:
        """Pause when playing, resume otherwise; returns whether it is now playing."""
        if self.is_playing:
            self.pause()
            return False
        return self.resume()

    def seek(self, position_s: float) -> None:
        with self._lock:
            if self._buffer is not None:
                self._pos = int(np.clip(position_s * self.sample_rate, 0, self._end))

    def stop(self) -> None:
        """Stop and close the stream (waits for PortAudio to finish its last callback)."""
        with self._lock:
            self._playing = False
            stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception as exc:  # noqa: BLE001 - closing a dead device must not crash
                log.warning("closing the audio stream failed: %s", exc)

    # -- state -------------------------------------------------------------------------
    @property
    def is_playing(self) -> bool:
        with self._lock:
            return self._playing

    @property
    def position_s(self) -> float:
        with self._lock:
            return self._pos / self.sample_rate

    @property
    def duration_s(self) -> float:
        with self._lock:
            return 0.0 if self._buffer is None else len(self._buffer) / self.sample_rate

    @property
    def source(self) -> str:
        with self._lock:
            return self._source

    @property
    def stream_active(self) -> bool:
        stream = self._stream
        return bool(stream is not None and stream.active)

    @property
    def gain(self) -> float:
        """The linear gain the current source plays with (1.0 without level matching)."""
        with self._lock:
            return self._gain

    def stats(self) -> dict[str, int | None]:
        """Callback counters (for tests and diagnostics): first frame played, callbacks, underflows."""
        with self._lock:
            return {
                "first_frame": self._first_frame,
                "callbacks": self._callbacks,
                "underflows": self._underflows,
            }

    # -- internals ---------------------------------------------------------------------
    def _ensure_stream(self) -> bool:
        if self._stream is not None:
            return True
        try:
            stream = self._sd.OutputStream(
                samplerate=self.sample_rate,
                blocksize=BLOCK_FRAMES,
                device=self._device,
                channels=1,
                dtype="float32",
                callback=self._callback,
            )
            stream.start()
        except Exception as exc:  # noqa: BLE001 - PortAudioError, ValueError for bad device
            self.available = False
            self.reason = (
                f"Playback is unavailable: the audio device could not be opened ({exc}); "
                "choose another output device or check the system's sound settings."
            )
            log.warning(self.reason)
            with self._lock:
                self._playing = False
            return False
        self._stream = stream
        return True

    def _callback(self, outdata: np.ndarray, frames: int, _time: Any, status: Any) -> None:
        # Real-time thread: copy one block, nothing else (no logging, no allocation of note).
        with self._lock:
            self._callbacks += 1
            if status and status.output_underflow:
                self._underflows += 1
            buffer = self._buffer
            if buffer is None or not self._playing:
                outdata.fill(0)
                return
            pos = self._pos
            if self._first_frame is None:
                self._first_frame = pos
            n = max(0, min(frames, self._end - pos))
            out = outdata[:n, 0]
            np.multiply(buffer[pos : pos + n], self._gain, out=out)
            np.clip(out, -1.0, 1.0, out=out)
            outdata[n:] = 0
            self._pos = pos + n
            if self._pos >= self._end:
                self._playing = False

