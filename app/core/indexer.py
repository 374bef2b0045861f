"""Incremental, resumable, cancellable indexing of music folders into a catalog.

Public API::

    summary = IndexSummary()
    for progress in index_folders(catalog, ["~/Music"], encoder, summary=summary):
        ...                      # each yield is a Progress and a cancellation point
    summary.added, summary.failed, ...

What a run does:
1. Scans the folders (app.core.scanner) and compares with the catalog (app.core.index_plan):
   files with new content, files left ``pending`` by an interrupted run, and files embedded
   by another model (``encoder.model_id``) are (re-)indexed; moved, renamed or copied files
   keep their vectors (matched by content fingerprint); files gone from disk are marked
   missing; files that failed before and did not change are not retried.
2. Decodes in worker processes (``workers``, default ``default_workers``), which
   also read the tags, while this process runs the batched encoder: on 2 cores one decodes
   while the other embeds. ``workers=0`` decodes inline. Files stream back in pieces of
   ``PIECE_WINDOWS`` windows (model.decode_pool), so a 2-hour file needs no more memory
   than a 3-minute one; on a GPU 44.1 kHz files are not resampled (``Encoder.native_rates``).
   On a CPU the workers also run the log-mel front end and send it instead of the
   waveforms (``decode_file``'s ``mel``; the encoder's ``embed_mel``).
3. Writes each batch of finished files in ONE transaction (app.core.catalog), so ``kill -9``
   loses at most the batch in flight and the next run completes it without duplicates.
   A file that cannot be decoded is stored with its reason and skipped.

Progress: ``done``/``total`` count files to index; ``rate`` is seconds of AUDIO indexed per
wall second (the "214x" the UI shows) and ``eta_s`` extrapolates it. Cancelling: stop
iterating (``close()`` the generator) or set ``cancel``; the batch in flight is dropped and
the worker processes are shut down before the generator returns.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from app.core.catalog import Catalog, TrackRecord
from app.core.fingerprint import fingerprint_or_none
from app.core.index_plan import apply_plan, make_plan
from app.core.lazy_encoder import LazyEncoder
from app.core.scanner import ScannedFile, scan
from app.core.types import Progress
from model.decode_pool import Crashed, decode_in_processes
from model.dimensions import normalize_blocks

if TYPE_CHECKING:
    from model.encoder import Encoder

Cancel = Callable[[], bool] | threading.Event | None


@dataclass
class IndexSummary:
    """Counts of one run, filled in while it goes (mutable on purpose: read it at the end)."""

    scanned: int = 0
    added: int = 0
    updated: int = 0
    reembedded: int = 0
    unchanged: int = 0
    removed: int = 0
    moved: int = 0  # new path, known content: vectors kept, nothing decoded
    copied: int = 0  # a second copy of known content: vectors copied, nothing decoded
    missing: int = 0  # files gone from disk this run (kept, out of the results)
    returned: int = 0  # missing files found again at their path
    failed: list[tuple[str, str]] = field(default_factory=list)  # (path, reason)
    problems: list[tuple[str, str]] = field(default_factory=list)  # scan problems
    audio_seconds: float = 0.0
    cancelled: bool = False
    lost_workers: int = 0  # cluster runs: workers that died (their files went to others)


@dataclass(frozen=True)
class Decoded:
    """A piece of one file sent back by a decoder: its next batch of windows, in order.

    The ``last`` piece also carries the file's duration, tags, and the BPM and loudness
    measured from its audio (model.measure, fed piece by piece). A failed file ends with a
    piece that has ``error`` set and no windows (pieces sent before it are dropped).
    """

    file: ScannedFile
    # (n, samples per window) float32 waveforms, 22.05 or 44.1 kHz; or, decoded with
    # ``mel``, their (n, 1, N_MELS, N_FRAMES) log-mel (model.mel.log_mel)
    windows: np.ndarray | None
    padded: bool
    duration_s: float
    tags: dict[str, object]
    error: str = ""
    last: bool = True
    bpm: float | None = None
    loudness_lufs: float | None = None


PIECE_WINDOWS = 16  # windows per piece (47 s of audio, 8 MB at 44.1 kHz): bounds memory


def decode_file(file: ScannedFile, native: bool = False, mel: bool = False) -> Iterator[Decoded]:
    """Decode one file into pieces of network windows, and read its tags (in a worker).

    ``native`` keeps 44.1 kHz files at their rate (``Encoder.native_rates``: on a GPU).
    ``mel`` sends each piece's log-mel instead of its waveforms (for an encoder on a CPU,
    ONNX or torch: its ``embed_mel``): a quarter of the bytes cross from the worker (pickling
    and pipe copies cost 0.27 ms of CPU per second of audio for waveforms), and the front end
    runs on the decoders' cores."""
    from app.core.tags import read_tags
    from model.audio import AudioError, stream_windows
    from model.measure import TrackMeter
    from model.mel import log_mel

    if file.fingerprint is None:
        file = replace(file, fingerprint=fingerprint_or_none(file.path))
    tags = read_tags(file.path)
    try:
        meter: TrackMeter | None = None
        for batch in stream_windows(file.path, PIECE_WINDOWS, native=native):
            meter = meter or TrackMeter(batch.rate)
            meter.update(batch.samples.reshape(-1))  # consecutive windows: the audio in order
            windows = log_mel(batch.samples) if mel else batch.samples
            if not batch.last:
                yield Decoded(file, windows, batch.padded, batch.decoded_s, {}, last=False)
                continue
            yield Decoded(file, windows, batch.padded, batch.decoded_s, tags,
                          bpm=meter.bpm(), loudness_lufs=meter.loudness_lufs())  # fmt: skip
    except AudioError as exc:
        yield Decoded(file, None, False, 0.0, tags, str(exc) or "cannot decode")
    except MemoryError:
        yield Decoded(file, None, False, 0.0, tags, f"{file.path}: too long to decode in memory")
    except Exception as exc:  # noqa: BLE001 - one bad file never stops a run; keep the reason
        yield Decoded(file, None, False, 0.0, tags, f"{file.path}: {type(exc).__name__}: {exc}")


def default_workers(native: bool) -> int:
    """Decoder processes on this machine's cores, for an encoder on a GPU (``native``) or not.

    On a CPU the workers carry most of the work (decoding, resampling, the meters and the
    front end: about 1.3 ms of CPU per second of 44.1 kHz Vorbis, 0.65 of 22.05 kHz FLAC,
    against the network's 0.4-0.85 ms), so there is one per core and the one-thread network
    shares the cores with them. Embedding in the workers too (no network in this process)
    was measured: the same CPU time (within 1 %), so it was left out. On a GPU one core is
    kept for torch, which feeds the device and runs the front end there.
    """
    cores = os.cpu_count() or 2
    return max(1, cores - 1) if native else cores


def is_cancelled(cancel: Cancel) -> bool:
    if cancel is None:
        return False
    if isinstance(cancel, threading.Event):
        return cancel.is_set()
    return bool(cancel())


def index_folders(
    catalog: Catalog,
    folders: Sequence[str | os.PathLike[str]],
    encoder: Encoder,
    *,
    cancel: Cancel = None,
    workers: int | None = None,
    batch_windows: int = 64,
    max_batch_tracks: int = 32,
    summary: IndexSummary | None = None,
) -> Iterator[Progress]:
    """Index ``folders`` into ``catalog`` with ``encoder``; yields Progress (see module doc)."""
    summary = summary if summary is not None else IndexSummary()
    todo = yield from plan_run(catalog, folders, str(encoder.model_id), encoder.info.path, cancel, summary)
    if todo:
        yield from embed_files(catalog, todo, encoder, cancel, workers, batch_windows,
                               max_batch_tracks, summary)


def plan_run(
    catalog: Catalog, folders: Sequence[str | os.PathLike[str]], model_id: str,
    model_path: str | os.PathLike[str], cancel: Cancel, summary: IndexSummary,
) -> Generator[Progress, None, list[ScannedFile]]:
    """Scan ``folders``, compare with the catalog, apply moves and removals, mark the files
    to embed pending; returns them (empty when cancelled). Also the first half of a cluster
    run (app.core.cluster_index), which shares the embedding out instead."""
    roots = [os.path.abspath(os.path.expanduser(os.fspath(f))) for f in folders]
    files: list[ScannedFile] = []
    for file in scan(roots, summary.problems):
        files.append(file)
        if len(files) % 500 == 0:
            yield Progress(len(files), None, f"scanning: {len(files)} audio files found")
            if is_cancelled(cancel):
                summary.cancelled = True
                return []
    summary.scanned = len(files)
    existing_roots = [r for r in roots if os.path.exists(r)]
    catalog.claim_model(model_id)
    catalog.note_model_path(model_id, os.path.abspath(model_path))
    plan = yield from make_plan(catalog, files, existing_roots, model_id, summary)
    summary.removed = apply_plan(catalog, plan)
    yield Progress(0, len(plan.todo), f"{len(plan.todo)} files to index ({summary.unchanged} unchanged)")
    return plan.todo


def decoded_pieces(
    todo: list[ScannedFile], workers: int, native: bool
) -> Generator[tuple[ScannedFile, Decoded | Crashed] | None, None, None]:
    """Every file's pieces: decoded in ``workers`` processes (started now), or inline when 0.
    Waveforms at their own rate for a GPU (``native``), else their log-mel."""
    if workers > 0:
        job = functools.partial(decode_file, native=native, mel=not native)
        return decode_in_processes(todo, job, workers)  # type: ignore[arg-type]
    return ((file, piece) for file in todo for piece in decode_file(file, native, not native))


def embed_files(
    catalog: Catalog, todo: list[ScannedFile], encoder: Encoder, cancel: Cancel,
    workers: int | None, batch_windows: int, max_batch_tracks: int, summary: IndexSummary,
) -> Iterator[Progress]:
    """Embed and store ``todo`` (decoded in ``workers`` processes, 0: inline).

    Embeds pieces as soon as one encoder batch is ready (so the decoders never wait on a
    commit), and commits finished files every ``batch_windows`` windows or ``max_batch_tracks``
    files. Waiting for a whole commit's windows before embedding left one core idle while
    the other decoded and the decoder blocked while the encoder ran (measured: 1.3 s of 7 s)."""
    model_id = str(encoder.model_id)
    if isinstance(encoder, LazyEncoder):
        encoder.expect(len(todo), sum(file.size for file in todo))  # a few: the runtime that starts fastest
    # The decoders start first and a lazy encoder loads while they decode (0.6 s with
    # OpenVINO, during which the second core used to wait for the fork server alone). It
    # knows before loading whether it will run on a GPU (``native_rates``): what to send.
    native = encoder.native_rates
    n_workers = default_workers(native) if workers is None else workers
    pieces = decoded_pieces(todo, n_workers, native)
    started = time.monotonic()
    try:  # a lazy encoder loads here, on its first use
        device = str(getattr(encoder.device, "type", encoder.device)).upper()  # torch.device or "cpu" (ONNX)
    except BaseException:
        pieces.close()  # it cannot load (CUDA failed, a damaged file): stop the decoders now
        raise
    ready: list[Decoded] = []
    finished: list[TrackRecord] = []
    partial: dict[str, list[np.ndarray]] = {}  # window vectors of files still being decoded
    done, total, uncommitted = 0, len(todo), 0
    # numpy's BLAS on one thread (the ONNX front end's product, the meters when decoding
    # inline): the cores are split between processes already, and idle OpenBLAS threads spin.
    blas = threadpool_limits(limits=1, user_api="blas")

    def commit() -> Progress:
        nonlocal done, finished, uncommitted
        if finished:
            # A file gone since the scan (a drive unplugged mid-run) is not an error of the
            # file: its row stays pending, so the next run tries it again.
            catalog.write_batch([r for r in finished if not r.error or os.path.lexists(r.path)])
        for rec in finished:
            if rec.error:
                summary.failed.append((rec.path, rec.error))
            else:
                summary.audio_seconds += rec.duration_s or 0.0
        done += len(finished)
        finished, uncommitted = [], 0
        rate = summary.audio_seconds / max(time.monotonic() - started, 1e-6)
        mean_s = summary.audio_seconds / max(1, done - len(summary.failed))
        eta = (total - done) * mean_s / rate if rate > 0 else None
        return Progress(
            done, total, f"indexed {done}/{total} files, {rate:.0f}x real time on {device}",
            rate=rate, eta_s=eta,
        )

    try:
        for item in pieces:
            if is_cancelled(cancel):
                summary.cancelled = True
                return
            if item is None:
                continue
            file, piece = item
            if isinstance(piece, Crashed):
                piece = Decoded(file, None, False, 0.0, {}, f"{file.path}: {piece.reason}")
            ready.append(piece)
            n_ready = sum(len(d.windows) for d in ready if d.windows is not None)
            if n_ready >= encoder.batch_windows or piece.windows is None:
                finished.extend(_embed_batch(ready, encoder, model_id, partial))
                ready, uncommitted = [], uncommitted + n_ready
            if uncommitted >= batch_windows or len(finished) >= max_batch_tracks:
                yield commit()  # also a progress report and cancellation point inside long files
        if is_cancelled(cancel):
            summary.cancelled = True
            return
        finished.extend(_embed_batch(ready, encoder, model_id, partial))
        if finished:
            yield commit()
    finally:
        pieces.close()
        blas.restore_original_limits()


def _embed_batch(
    ready: list[Decoded], encoder: Encoder, model_id: str, partial: dict[str, list[np.ndarray]]
) -> list[TrackRecord]:
    """Embed the windows of ``ready`` (one encoder call per sample rate, or for log-mel) into
    ``partial``; records for the files whose last piece is among them, good and bad."""
    for shape in sorted({d.windows.shape[1:] for d in ready if d.windows is not None}):
        good = [d for d in ready if d.windows is not None and d.windows.shape[1:] == shape]
        stacked = np.concatenate([d.windows for d in good])  # type: ignore[misc]
        embed = encoder.embed_windows if stacked.ndim == 2 else encoder.embed_mel  # type: ignore[attr-defined]
        vectors = np.asarray(embed(stacked), dtype=np.float32)
        start = 0
        for d in good:
            n = len(d.windows)  # type: ignore[arg-type]
            partial.setdefault(d.file.path, []).append(vectors[start : start + n])
            start += n
    records: list[TrackRecord] = []
    for d in ready:
        if not d.last:
            continue
        parts = partial.pop(d.file.path, [])
        if d.windows is None:
            records.append(
                TrackRecord(d.file.path, d.file.size, d.file.mtime_ns, None, d.tags, error=d.error,
                            fingerprint=d.file.fingerprint)
            )
            continue
        windows = np.concatenate(parts)
        records.append(
            TrackRecord(
                d.file.path, d.file.size, d.file.mtime_ns, d.duration_s, d.tags, model_id,
                track=normalize_blocks(windows.mean(axis=0)), windows=windows, padded=d.padded,
                fingerprint=d.file.fingerprint, measured_bpm=d.bpm, loudness_lufs=d.loudness_lufs,
            )
        )
    return records
