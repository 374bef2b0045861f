"""Audio decoding for the encoder and the trainer: any file to 22 050 Hz mono float32.

Files are decoded with libsndfile (``soundfile``: WAV, FLAC, OGG/Vorbis/Opus, MP3, AIFF, ...),
down-mixed to mono (plain channel average) and resampled with soxr's "HQ" quality in a
*streaming* resampler, reading the file in blocks of ``READ_BLOCK_SECONDS``. A 2-hour file
therefore never needs its whole decoded source in memory; ``stream_audio`` and
``iter_windows`` keep memory bounded by one block, ``load_audio`` by its own output
(22 050 float32 samples per second: 635 MB for 2 hours, so long files should be streamed).
Measured peak RSS above the interpreter's for a 2-hour 44.1 kHz stereo FLAC: ``iter_windows``
+32 MB, ``Encoder.embed_file`` +177 MB (torch activations included), ``load_audio`` +620 MB.
``soundalike index`` streams too (app.core.indexer): a 2-hour 44.1 kHz stereo FLAC peaked at
184 MiB in the indexer and 166 MiB in its decoder (372 MiB for the process tree, sampled),
against 176, 118 and 311 MiB for a 3-minute one: 1.19x (``soundalike bench index --memory``;
ONNX encoder. With torch it was 343, 71 and 437 MiB against 319, 66 and 406; 1533 and 1818
MiB, 2131 for the tree, before it streamed).
Whole Vorbis and Opus files are decoded by FFmpeg's decoders in process instead (PyAV,
``model/av_decode.py``: 40 % less CPU than libvorbis, the same samples to -136 dB); a clip's
span still by libsndfile. Formats libsndfile cannot open (.m4a/.mp4/.aac/.wma: AAC, ALAC,
video soundtracks, ...) are decoded by FFmpeg's decoders in process too (PyAV, imported only
when such a file is met: ``model/av_formats.py``), spans included, to the sample.

Every failure a user can cause raises ``AudioError`` whose message is one line. Results
for unusual but valid input, chosen so that nothing surprising happens downstream:

- silence: decoded as zeros (a valid, if uninformative, track);
- shorter than one window: ``split_windows`` zero-pads it to one window and flags it;
- multichannel (stereo, 5.1, ...): the mean of all channels;
- 8-bit, 24-bit, float: libsndfile scales every sample format to [-1, 1];
- any sample rate (8 kHz ... 192 kHz): resampled to 22 050 Hz, except that ``native=True``
  (the encoder on a GPU) keeps 44.1 kHz sources at 44.1 kHz and the front end computes the
  same log-mel from them (model/features.py). soxr HQ costs little (44.1 -> 22.05 kHz ran at
  ~11 600x realtime per CPU-second, ~5 % of decoding a Vorbis file), less than the 44.1 kHz
  STFT costs on a CPU, so CPUs resample (``Encoder.native_rates``);
- NaN/inf samples in float files: replaced by 0 so one bad sample cannot poison a batch.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from model import av_decode, av_formats
from model.constants import SAMPLE_RATE  # Hz: every file is resampled to this
from model.truncation import truncation_reason

# Front-end constants (the paper's, made exact). Kept in one block, whisper style.
N_FFT = 1024  # samples per STFT frame: 46 ms at 22 050 Hz
HOP_LENGTH = 512  # samples between frames: 23 ms, 50 % overlap
N_MELS = 128  # mel bands
WINDOW_SAMPLES = 65536  # samples per network input window: 2.97 s
WINDOW_SECONDS = WINDOW_SAMPLES / SAMPLE_RATE  # 2.972 s
N_FRAMES = WINDOW_SAMPLES // HOP_LENGTH + 1  # 129 frames per window (centred STFT)
MEL_MEAN = 0.2  # fixed z-score mean of log10(1 + 10 * mel power)
MEL_STD = 0.25  # fixed z-score standard deviation
# Source rates the front end takes as they are (no resampling): an integer multiple m of
# SAMPLE_RATE, framed with n_fft m*N_FFT and hop m*HOP_LENGTH, has the same 46 ms frames and
# the same 21.5 Hz bins, so a filterbank over those bins gives the 22 050 Hz features.
NATIVE_RATES = (SAMPLE_RATE, 2 * SAMPLE_RATE)  # Hz: 22 050 and 44 100

READ_BLOCK_SECONDS = 10.0  # seconds of source audio decoded per block when streaming
RESAMPLE_QUALITY = "HQ"  # soxr quality: 20-bit precision, ~0.1 % passband ripple
TRUNCATION_TOLERANCE_SECONDS = 0.5  # a file may end this much before its header says

# Extensions libsndfile decodes itself; a file with one of these that it cannot open is corrupt.
SNDFILE_SUFFIXES = frozenset(
    ".wav .wave .flac .ogg .oga .opus .mp3 .aif .aiff .aifc .au .snd .caf .w64 .rf64".split()
)


class AudioError(Exception):
    """A file that cannot be decoded; ``str(error)`` is a one-line reason for the user."""


def _check_path(path: Path) -> None:
    """Turn the cheap filesystem failures into clear reasons before libsndfile sees them."""
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if not os.access(path, os.R_OK):
        raise AudioError(f"{path}: permission denied")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file (0 bytes)")


def _open(path: Path) -> sf.SoundFile | None:
    """Open with libsndfile; ``None`` means "not libsndfile's format: PyAV's (model.av_formats)"."""
    try:
        # Bytes: soundfile encodes a str path strictly, which fails on a non-UTF-8 name.
        return sf.SoundFile(os.fsencode(path))
    except (sf.LibsndfileError, RuntimeError, TypeError) as exc:
        # A broken .mp3/.wav/... is reported as broken; only other formats go to FFmpeg,
        # which would otherwise happily "decode" random bytes as MPEG noise.
        if path.suffix.lower() not in SNDFILE_SUFFIXES:
            return None
        raise AudioError(f"{path}: not a readable audio file (corrupt, or not what its extension says)") from exc


def audio_duration(path: str | os.PathLike[str]) -> float:
    """Duration in seconds from the file header (cheap: nothing is decoded)."""
    path = Path(path)
    _check_path(path)
    handle = _open(path)
    if handle is None:
        return av_formats.duration(path, AudioError)
    with handle:
        if handle.samplerate <= 0:
            raise AudioError(f"{path}: header has no sample rate")
        return handle.frames / handle.samplerate


def _mono(block: np.ndarray) -> np.ndarray:
    # Summing column by column is 20x faster than block.mean(axis=1), a strided reduction
    # that cost as much CPU as a third of Vorbis decoding.
    if block.ndim == 2 and block.shape[1] > 1:
        mono = block[:, 0].copy()
        for channel in range(1, block.shape[1]):
            mono += block[:, channel]
        mono *= np.float32(1.0 / block.shape[1])
    else:
        mono = block.reshape(-1)
    if not np.isfinite(mono).all():
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    return np.ascontiguousarray(mono, dtype=np.float32)


def window_samples(rate: int) -> int:
    """Samples in one network window (``WINDOW_SECONDS``) at ``rate``, one of ``NATIVE_RATES``."""
    if rate not in NATIVE_RATES:
        raise ValueError(f"the front end takes {NATIVE_RATES} Hz, not {rate}")
    return WINDOW_SAMPLES * rate // SAMPLE_RATE


def windows_rate(windows: np.ndarray) -> int:
    """The sample rate of ``(n, samples)`` windows, told by their width (one window is 2.97 s)."""
    for rate in NATIVE_RATES:
        if windows.shape[-1] == window_samples(rate):
            return rate
    raise ValueError(f"windows of {windows.shape[-1]} samples are not 2.97 s at {NATIVE_RATES} Hz")


def _stream_sndfile(
    path: Path, handle: sf.SoundFile, offset_s: float, duration_s: float | None, out_rate: int
) -> Iterator[np.ndarray]:
    rate = handle.samplerate
    start = int(round(offset_s * rate))
    declared = handle.frames
    wanted = None if duration_s is None else int(round(duration_s * rate))
    stop = declared if wanted is None else min(declared, start + wanted)
    block = max(1, int(READ_BLOCK_SECONDS * rate))
    resampler = None if rate == out_rate else soxr.ResampleStream(
        rate, out_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
    )
    if start > 0:
        if start >= declared:
            return
        handle.seek(start)
    position = start
    while position < stop:
        try:
            data = handle.read(min(block, stop - position), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            raise AudioError(
                f"{path}: decoding failed at {position / rate:.1f} s (truncated or corrupt data)"
            ) from exc
        if len(data) == 0:
            break
        position += len(data)
        mono = _mono(data)
        yield mono if resampler is None else resampler.resample_chunk(mono)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield tail
    missing = (stop - position) / rate
    if missing > TRUNCATION_TOLERANCE_SECONDS:
        raise AudioError(
            f"{path}: truncated file: header says {declared / rate:.1f} s, "
            f"data ends at {position / rate:.1f} s"
        )


def _resampled(
    path: Path,
    blocks: Iterator[np.ndarray],
    source_rate: int,
    declared: int,
    out_rate: int,
    start: int = 0,
) -> Iterator[np.ndarray]:
    """Mono blocks from another decoder (model.av_decode, model.av_formats) resampled and
    checked for truncation as ``_stream_sndfile`` does; the blocks begin at sample ``start``
    and should end at ``declared`` (the header's frame count, or the span's end; 0: unknown)."""
    resampler = None if source_rate == out_rate else soxr.ResampleStream(
        source_rate, out_rate, 1, dtype="float32", quality=RESAMPLE_QUALITY
    )
    position = start
    for mono in blocks:
        position += mono.size
        yield mono if resampler is None else resampler.resample_chunk(mono)
    if resampler is not None:
        tail = resampler.resample_chunk(np.zeros(0, dtype=np.float32), last=True)
        if len(tail):
            yield tail
    if (declared - position) / source_rate > TRUNCATION_TOLERANCE_SECONDS:
        raise AudioError(
            f"{path}: truncated file: header says {declared / source_rate:.1f} s, "
            f"data ends at {position / source_rate:.1f} s"
        )


def _open_stream(
    path: str | os.PathLike[str], offset_s: float, duration_s: float | None, native: bool
) -> tuple[int, Iterator[np.ndarray]]:
    """``(rate, chunks)``: ``rate`` is the source's own when ``native`` and it is one of
    ``NATIVE_RATES``, else ``SAMPLE_RATE``. Opening errors are raised here, decoding errors
    while iterating."""
    path = Path(path)
    _check_path(path)
    if offset_s < 0 or (duration_s is not None and duration_s < 0):
        raise ValueError("offset_s and duration_s must be >= 0")
    handle = _open(path)
    if handle is None:
        source, start, end, blocks = av_formats.open_mono(path, offset_s, duration_s, READ_BLOCK_SECONDS, AudioError)
        rate = source if native and source in NATIVE_RATES else SAMPLE_RATE
        return rate, _resampled(path, blocks, source, end, rate, start)
    try:
        reason = truncation_reason(path)
        if reason is not None:
            raise AudioError(f"{path}: {reason}")
        if handle.frames == 0:
            raise AudioError(f"{path}: no audio data (0 frames)")
    except BaseException:
        handle.close()
        raise
    rate = handle.samplerate if native and handle.samplerate in NATIVE_RATES else SAMPLE_RATE
    whole = offset_s == 0 and duration_s is None
    blocks = av_decode.open_mono(path, int(READ_BLOCK_SECONDS * handle.samplerate), AudioError) if whole else None
    if blocks is not None:
        handle.close()
        return rate, _resampled(path, blocks, handle.samplerate, handle.frames, rate)

    def chunks() -> Iterator[np.ndarray]:
        with handle:
            yield from _stream_sndfile(path, handle, offset_s, duration_s, rate)

    return rate, chunks()


def stream_audio(
    path: str | os.PathLike[str], offset_s: float = 0.0, duration_s: float | None = None
) -> Iterator[np.ndarray]:
    """Yield consecutive float32 mono chunks at ``SAMPLE_RATE`` (about 10 s each).

    Memory stays bounded by one block whatever the file's length. Errors (including
    truncation, detected when the data ends early) are raised as ``AudioError``; chunks
    yielded before a mid-file error are valid audio.
    """
    _, chunks = _open_stream(path, offset_s, duration_s, native=False)
    yield from chunks


def load_audio(
    path: str | os.PathLike[str], offset_s: float = 0.0, duration_s: float | None = None
) -> np.ndarray:
    """Decode ``path`` (optionally the span ``[offset_s, offset_s + duration_s)``) to float32 mono.

    Returns a 1-D float32 array at ``SAMPLE_RATE``. Raises ``AudioError`` with a one-line
    reason for missing, empty, truncated, corrupt or unsupported files.
    """
    # Fill one array sized from the header instead of concatenating a list of chunks,
    # which would need twice the output's memory (1.4 GB instead of 0.7 GB for 2 hours).
    expected = audio_duration(path) - offset_s
    if duration_s is not None:
        expected = min(expected, duration_s)
    out = np.empty(max(0, int(expected * SAMPLE_RATE)) + SAMPLE_RATE, dtype=np.float32)
    filled, overflow = 0, []
    for chunk in stream_audio(path, offset_s, duration_s):
        take = min(len(chunk), len(out) - filled)
        out[filled : filled + take] = chunk[:take]
        filled += take
        if take < len(chunk):
            overflow.append(chunk[take:])
    if overflow:  # the header under-stated the length (some MP3s); rare, so copying is fine
        return np.concatenate([out[:filled], *overflow])
    return out[:filled].copy() if filled < len(out) // 2 else out[:filled]


def split_windows(samples: np.ndarray) -> tuple[np.ndarray, bool]:
    """Cut mono samples into non-overlapping network windows.

    Window ``i`` starts at ``i * WINDOW_SECONDS``. A remainder shorter than one window at the
    end is dropped (the paper's non-overlapping 3 s excerpts) unless the whole clip is shorter
    than one window: then it is zero-padded to one window and ``padded`` is True.
    Returns ``(windows (n, WINDOW_SAMPLES) float32, padded)``.
    """
    return _split(np.asarray(samples, dtype=np.float32).reshape(-1), WINDOW_SAMPLES)


def _split(samples: np.ndarray, width: int) -> tuple[np.ndarray, bool]:
    if samples.size == 0:
        raise ValueError("no samples to split into windows")
    if samples.size < width:
        window = np.zeros((1, width), dtype=np.float32)
        window[0, : samples.size] = samples
        return window, True
    n = samples.size // width
    return samples[: n * width].reshape(n, width).copy(), False


@dataclass(frozen=True)
class Windows:
    """One batch of a file's network windows, as ``stream_windows`` yields them.

    ``samples``: ``(k, window_samples(rate))`` float32; ``padded``: the file was shorter
    than one window and was zero-padded; ``last``: the file's final batch, whose
    ``decoded_s`` is the length of all the audio decoded (the file's duration).
    """

    samples: np.ndarray
    rate: int
    padded: bool
    last: bool
    decoded_s: float


def stream_windows(
    path: str | os.PathLike[str], batch_windows: int = 32, native: bool = False
) -> Iterator[Windows]:
    """Stream a file as batches of windows, with memory bounded by two batches.

    Windows are exactly those ``split_windows(load_audio(path))`` returns, in order, except
    that with ``native`` a 44.1 kHz source keeps its rate (twice the samples per window).
    ``padded`` can be True only for a single-window file (shorter than one window).
    """
    rate, chunks = _open_stream(path, 0.0, None, native)
    width = window_samples(rate)
    batch_samples = batch_windows * width
    # Chunks are copied once, into the batch being filled (concatenating a growing buffer
    # copied every sample about three times, as much CPU as the resampler it replaced).
    fill, filled, decoded = np.empty(batch_samples, dtype=np.float32), 0, 0
    pending: np.ndarray | None = None  # held back one batch to know which batch is the last
    for chunk in chunks:
        decoded += chunk.size
        used = 0
        while used < chunk.size:
            take = min(chunk.size - used, batch_samples - filled)
            fill[filled : filled + take] = chunk[used : used + take]
            filled, used = filled + take, used + take
            if filled == batch_samples:
                if pending is not None:
                    yield Windows(pending, rate, False, False, decoded / rate)
                pending = fill.reshape(batch_windows, width)
                fill, filled = np.empty(batch_samples, dtype=np.float32), 0
    buffer = fill[:filled]
    padded = False
    if buffer.size >= width or (pending is None and buffer.size > 0):
        if pending is not None:
            yield Windows(pending, rate, False, False, decoded / rate)
        pending, padded = _split(buffer, width)
    if pending is None:
        raise AudioError(f"{Path(path)}: no audio data")
    yield Windows(pending, rate, padded, True, decoded / rate)


def iter_windows(
    path: str | os.PathLike[str], batch_windows: int = 32
) -> Iterator[tuple[np.ndarray, bool]]:
    """``stream_windows`` at ``SAMPLE_RATE`` as ``(windows, padded)`` pairs."""
    for batch in stream_windows(path, batch_windows):
        yield batch.samples, batch.padded
