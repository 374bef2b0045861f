"""The embedding API: audio in, block-normalised 256-d vectors out (per window and per track).

``Encoder.load(path, device)`` picks the fastest correct path for the machine:

- CUDA when available: front end and network on the GPU, autocast bf16 (fp16 on GPUs
  without bf16), host batches pinned so copies are asynchronous. If CUDA then fails to
  initialise (driver, out of memory), ``"auto"`` falls back to CPU with a logged warning and
  ``"cuda"`` raises a one-line ``ValueError``; a CUDA error while embedding moves the encoder
  to the CPU (warning) and the batch is redone there;
- CPU: channels-last tensors, batch norm folded into the convs, and bfloat16 autocast when
  the CPU has native bf16 instructions (AVX512-BF16 or AMX), else float32. The bf16 path
  keeps the front end, the linear head and the normalisation in float32 and matches float32
  embeddings with cosine >= 0.999 (tested). ``SOUNDALIKE_PRECISION=fp32`` forces float32.

CPU results are deterministic: the same windows in the same batch give the same vectors.
Every returned vector is block-normalised (each 64-d dimension block has unit length), so
weighted inner products equal weighted sums of per-dimension cosines.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import torch

from model.audio import AudioError, split_windows, stream_windows, windows_rate
from model.checkpoint import ModelFile, load_model
from model.device import choose_precision, first_line, resolve_device
from model.dimensions import normalize_blocks
from model.embedding import (  # noqa: F401 - re-exported
    TrackEmbedding,
    available_cores,
    pipeline_threads,
    track_vector,
)
from model.features import LogMel
from model.network import CSNInception
from model.prefetch import embed_prefetched

log = logging.getLogger(__name__)

CPU_BATCH_WINDOWS = 8  # windows per CPU forward pass (24 s of audio): faster than 16 or 32, cache
CUDA_BATCH_WINDOWS = 128  # windows per forward pass on a GPU


class Encoder:
    """A loaded model ready to embed audio. Not thread-safe: use one per worker thread."""

    def __init__(
        self,
        network: CSNInception,
        info: ModelFile,
        device: torch.device,
        dtype: torch.dtype = torch.float32,
        batch_windows: int | None = None,
    ) -> None:
        self.info = info
        self.device = device
        self.dtype = dtype
        self.batch_windows = batch_windows or (
            CUDA_BATCH_WINDOWS if device.type == "cuda" else CPU_BATCH_WINDOWS
        )
        self.frontend = LogMel().to(device)
        network = network.to(device).eval().fuse_for_inference()
        self.network = network.to(memory_format=torch.channels_last)

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str],
        device: str = "auto",
        precision: str = "auto",
        threads: int | None = None,
        batch_windows: int | None = None,
    ) -> Encoder:
        """Load a model file; raises ``ModelFileError`` or ``ValueError`` (bad device).

        ``threads`` sets torch's CPU threads (process-wide; default: all cores);
        ``batch_windows`` the windows per forward pass (default: 8 on CPU, 128 on CUDA).
        """
        torch_device = resolve_device(device)
        if torch_device.type == "cuda":
            try:
                network, info = load_model(path, map_location=torch_device)
                return cls(network, info, torch_device, choose_precision(torch_device, precision), batch_windows)
            except (RuntimeError, AssertionError) as exc:  # driver/init/OOM; CPU-only torch asserts
                if device != "auto":
                    raise ValueError(f"CUDA failed: {first_line(exc)}") from exc
                log.warning("CUDA failed (%s); falling back to CPU", first_line(exc))
                torch_device = torch.device("cpu")
        torch.set_num_threads(threads or available_cores())
        network, info = load_model(path, map_location=torch_device)
        dtype = choose_precision(torch_device, precision)
        return cls(network, info, torch_device, dtype, batch_windows)

    @property
    def model_id(self) -> str:
        """First 16 hex digits of the model file's SHA-256."""
        return self.info.model_id

    @property
    def native_rates(self) -> bool:
        """Decode 44.1 kHz files at their rate (no resampling) for this device?

        Only on a GPU, where the 44.1 kHz front end is nearly free. On a CPU its STFT costs
        more than the soxr resampling it saves: decode + embed on one core ran at 293x
        realtime per CPU-second natively against 312x resampled (8 real OGG songs, bf16).
        """
        return self.device.type == "cuda"

    @property
    def precision(self) -> str:
        """"fp32", "bf16" or "fp16": what the network computes in."""
        return {torch.float32: "fp32", torch.bfloat16: "bf16", torch.float16: "fp16"}[self.dtype]

    def _autocast(self) -> contextlib.AbstractContextManager[object]:
        if self.dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.dtype)

    def _forward(self, inputs: np.ndarray) -> np.ndarray:
        if self.device.type == "cuda":
            try:
                return self._forward_on_device(inputs)
            except (RuntimeError, AssertionError) as exc:  # OutOfMemoryError is a RuntimeError
                self._fall_back_to_cpu(exc)
        return self._forward_on_device(inputs)

    def _fall_back_to_cpu(self, exc: BaseException) -> None:
        """A CUDA error mid-run (out of memory, device lost): go on, on the CPU, from here."""
        log.warning("CUDA failed (%s); continuing on CPU", first_line(exc))
        self.device = torch.device("cpu")
        self.dtype = choose_precision(self.device)
        self.batch_windows = CPU_BATCH_WINDOWS
        self.frontend = self.frontend.to(self.device)
        self.network = self.network.to(self.device)

    @torch.inference_mode()
    def _forward_on_device(self, inputs: np.ndarray) -> np.ndarray:
        """Waveforms ``(n, samples)`` through the front end and the network, or log-mel
        ``(n, 1, N_MELS, N_FRAMES)`` through the network alone."""
        x = torch.from_numpy(np.ascontiguousarray(inputs, dtype=np.float32))
        if self.device.type == "cuda":
            x = x.pin_memory()  # page-locked: the copy below is a DMA that overlaps the GPU
        x = x.to(self.device, non_blocking=True)
        with self._autocast():
            mel = x if x.ndim == 4 else self.frontend(x, windows_rate(inputs))
            out = self.network(mel.contiguous(memory_format=torch.channels_last))
        return out.float().cpu().numpy()

    def embed_windows(self, windows: np.ndarray) -> np.ndarray:
        """``(n, WINDOW_SAMPLES)`` waveforms -> ``(n, 256)`` float32, block-normalised.

        44.1 kHz windows (``2 * WINDOW_SAMPLES`` wide, see ``NATIVE_RATES``) are taken too.
        """
        windows = np.asarray(windows, dtype=np.float32)
        if windows.ndim != 2:
            raise ValueError("embed_windows expects (n, WINDOW_SAMPLES) windows")
        return self._embed(windows)

    def embed_mel(self, mel: np.ndarray) -> np.ndarray:
        """``(n, 1, N_MELS, N_FRAMES)`` log-mel (``model.mel.log_mel``, computed elsewhere: the
        indexer's decoders on a CPU, as for the ONNX encoder) -> ``(n, 256)`` float32,
        block-normalised."""
        mel = np.asarray(mel, dtype=np.float32)
        if mel.ndim != 4:
            raise ValueError("embed_mel expects (n, 1, N_MELS, N_FRAMES) log-mel")
        return self._embed(mel)

    def _embed(self, inputs: np.ndarray) -> np.ndarray:
        if len(inputs) == 0:
            return np.zeros((0, self.info.dims.embedding_size), dtype=np.float32)
        parts = [
            self._forward(inputs[i : i + self.batch_windows])
            for i in range(0, len(inputs), self.batch_windows)
        ]
        return normalize_blocks(np.concatenate(parts))

    def embed_samples(self, samples: np.ndarray) -> TrackEmbedding:
        """Mono ``SAMPLE_RATE`` samples -> window vectors and track vector."""
        windows, padded = split_windows(samples)
        vectors = self.embed_windows(windows)
        return TrackEmbedding(vectors, track_vector(vectors), padded)

    def embed_file(self, path: str | os.PathLike[str]) -> TrackEmbedding:
        """Decode (streaming, bounded memory) and embed one file; raises ``AudioError``."""
        parts, padded = [], False
        for batch in stream_windows(path, self.batch_windows, native=self.native_rates):
            parts.append(self.embed_windows(batch.samples))
            padded = padded or batch.padded
        vectors = np.concatenate(parts)
        return TrackEmbedding(vectors, track_vector(vectors), padded)

    def embed_files(
        self, paths: Sequence[str | os.PathLike[str]], decode_workers: int | None = None
    ) -> Iterator[tuple[str, TrackEmbedding | AudioError]]:
        """Embed many files, decoding in background threads while the network runs.

        Yields ``(path, TrackEmbedding)`` or ``(path, AudioError)`` per file, in completion
        order (input order when ``decode_workers == 1``). Each yield is a cancellation point:
        closing the generator stops the decoders. On CPU the cores are split between torch
        and the decoders (``pipeline_threads``) for the duration of the generator.
        """
        torch_threads, workers = pipeline_threads(available_cores())
        workers = decode_workers or workers
        previous = torch.get_num_threads()
        if self.device.type == "cpu":
            torch.set_num_threads(torch_threads)
        else:
            workers = decode_workers or max(1, available_cores() - 1)
        try:
            yield from embed_prefetched(self.embed_windows, paths, self.batch_windows, workers, self.native_rates)
        finally:
            torch.set_num_threads(previous)


def describe(encoder: Encoder) -> str:
    """One line for logs and benchmarks: device, precision, threads, model id."""
    threads = torch.get_num_threads() if encoder.device.type == "cpu" else "-"
    return (
        f"device={encoder.device} precision={encoder.precision} torch_threads={threads} "
        f"model={encoder.model_id} ({Path(encoder.info.path).name})"
    )
