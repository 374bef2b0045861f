"""Where indexing's CPU goes, stage by stage: CPU milliseconds per second of audio.

``stage_table(folder, encoder)`` indexes ``folder`` into a scratch catalog in this process
(``workers=0``: decoding inline, so every stage runs on this thread) with a clock around
the function that does each stage, then prints one row per stage:

- decode: libsndfile reading (``SoundFile.read``: FLAC/MP3/WAV decoding) and PyAV's
  (``model.av_decode``: Vorbis/Opus, down-mix included);
- down-mix: channels to mono (``model.audio._mono``);
- resample: soxr to 22 050 Hz (``ResampleStream.resample_chunk``);
- BPM + loudness: the meters fed while decoding (``model.measure.TrackMeter``);
- tags, fingerprint: mutagen, the content hash;
- front end: log-mel (``model.mel.log_mel`` for ONNX, in the decoder with the indexer,
  ``LogMel`` for torch);
- network: the ONNX session's run, or the torch network's forward;
- database writes: ``Catalog.write_batch`` (SQLite transactions);
- other: the rest of the thread's CPU (scan, windowing copies, Python glue).

CPU time of this thread (``time.thread_time``), exclusive of nested stages, so the rows add
up to the total. On a shared machine it is the figure to trust: wall time depends on what
the other jobs leave. numpy's BLAS is held to one thread as in the pipeline.
"""

from __future__ import annotations

import contextlib
import functools
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from unittest import mock

STAGES = ("decode", "down-mix", "resample", "BPM + loudness", "tags", "fingerprint",
          "front end", "network", "database writes")  # fmt: skip


class StageClock:
    """Exclusive CPU seconds per stage: a stage called inside another is not counted twice."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = dict.fromkeys(STAGES, 0.0)
        self._inner: list[float] = []

    def wrap(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.thread_time()
            self._inner.append(0.0)
            try:
                return fn(*args, **kwargs)
            finally:
                spent = time.thread_time() - start
                self.seconds[stage] += spent - self._inner.pop()
                if self._inner:
                    self._inner[-1] += spent

        return timed

    def wrap_steps(self, stage: str, fn: Callable[..., Iterator[Any]]) -> Callable[..., Iterator[Any]]:
        """``fn`` a generator function: each step is timed (its work runs between yields)."""
        step = self.wrap(stage, next)

        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            steps = fn(*args, **kwargs)
            while True:
                try:
                    item = step(steps)
                except StopIteration:
                    return
                yield item

        return timed


@contextlib.contextmanager
def _clocked(clock: StageClock, encoder: Any) -> Iterator[None]:
    import soundfile
    import soxr

    import app.core.index_plan
    import app.core.indexer
    import app.core.tags
    import model.audio
    import model.av_decode
    import model.measure
    import model.mel
    import model.onnx_encoder
    from app.core.catalog import Catalog

    meter = model.measure.TrackMeter
    targets = [
        (soundfile.SoundFile, "read", "decode"),
        (model.audio, "_mono", "down-mix"),
        (soxr.ResampleStream, "resample_chunk", "resample"),
        (meter, "update", "BPM + loudness"), (meter, "bpm", "BPM + loudness"),
        (meter, "loudness_lufs", "BPM + loudness"),
        (app.core.tags, "read_tags", "tags"),
        (app.core.indexer, "fingerprint_or_none", "fingerprint"),
        (app.core.index_plan, "fingerprint_or_none", "fingerprint"),
        (model.onnx_encoder, "log_mel", "front end"), (model.mel, "log_mel", "front end"),
        (Catalog, "write_batch", "database writes"),
    ]  # fmt: skip
    if hasattr(encoder.network, "runtime"):  # ONNX (onnxruntime or OpenVINO); torch's Encoder has a network too
        patches = [mock.patch.object(encoder, "network", clock.wrap("network", encoder.network))]
    else:  # torch
        frontend, network = encoder.frontend, encoder.network
        patches = [mock.patch.object(frontend, "forward", clock.wrap("front end", frontend.forward)),
                   mock.patch.object(network, "forward", clock.wrap("network", network.forward))]  # fmt: skip
    patches += [mock.patch.object(owner, name, clock.wrap(stage, getattr(owner, name)))
                for owner, name, stage in targets]  # fmt: skip
    patches.append(mock.patch.object(model.av_decode, "_blocks", clock.wrap_steps("decode", model.av_decode._blocks)))
    with contextlib.ExitStack() as stack:
        for patch in patches:
            stack.enter_context(patch)
        yield


def stage_table(folder: Path, encoder: Any) -> tuple[dict[str, float], float]:
    """Index ``folder`` inline, print the stage table; returns (CPU seconds per stage with
    "other" and "total", seconds of audio indexed)."""
    import numpy as np
    from threadpoolctl import threadpool_limits

    from app.core.catalog import Catalog
    from app.core.indexer import IndexSummary, index_folders
    from model import av_decode, fft
    from model.audio import WINDOW_SAMPLES

    fft.use_scipy()  # what the decoder workers use (model.decode_pool)
    av_decode.enable()
    clock = StageClock()
    summary = IndexSummary()
    with tempfile.TemporaryDirectory(prefix="soundalike-stages-") as tmp, \
            threadpool_limits(limits=1, user_api="blas"):  # fmt: skip
        catalog = Catalog.open(Path(tmp) / "stages.db")
        encoder.embed_windows(np.zeros((1, WINDOW_SAMPLES), np.float32))  # load, warm up
        with _clocked(clock, encoder):
            start, wall = time.thread_time(), time.perf_counter()
            for _ in index_folders(catalog, [folder], encoder, workers=0, summary=summary):
                pass
            total, wall = time.thread_time() - start, time.perf_counter() - wall
        catalog.close()
    seconds = dict(clock.seconds)
    seconds["other"] = max(0.0, total - sum(seconds.values()))
    seconds["total"] = total
    audio_s = max(summary.audio_seconds, 1e-9)
    print(f"   stages, inline on one thread ({summary.scanned} files, {audio_s:.0f} s audio, "
          f"{total:.1f} CPU-s in {wall:.1f} s wall):")
    print(f"   {'stage':16} {'CPU-s':>7} {'ms CPU per audio-s':>19} {'x per CPU-s':>12}")
    for stage, cpu in seconds.items():
        rate = f"{audio_s / cpu:12.0f}" if cpu > 0 else f"{'-':>12}"
        print(f"   {stage:16} {cpu:7.2f} {1000 * cpu / audio_s:19.3f} {rate}")
    return seconds, audio_s
