"""Many files to vectors with the front end in decoder processes (the ONNX encoder's ``embed_files``).

Public API::

    embed_in_processes(embed_mel, paths, workers) -> Iterator[(path, TrackEmbedding | AudioError)]

Each worker (model.decode_pool: forkserver processes, bounded pipes, a crash costs one file)
decodes a file, cuts it into windows, runs the numpy front end (model.mel) and sends the
log-mel piece by piece; this process only runs the network. Why not threads (model.prefetch,
what torch's encoder uses): with the front end in numpy and a one-thread network, threads
fought over the GIL and left a core idle, and a piece of log-mel is a quarter of the bytes
of its waveforms. ``soundalike index`` does the same through its own worker job
(app.core.indexer.decode_file), which also reads tags and measures BPM and loudness.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from model.audio import AudioError, stream_windows
from model.decode_pool import Crashed, decode_in_processes
from model.embedding import TrackEmbedding, track_vector
from model.mel import log_mel

PIECE_WINDOWS = 16  # windows per piece sent back (47 s of audio, 1 MB of log-mel)


@dataclass(frozen=True)
class MelPiece:
    """The next windows of one file as network input; ``last`` ends the file."""

    mel: np.ndarray  # (n, 1, N_MELS, N_FRAMES) float32
    padded: bool
    last: bool


def mel_pieces(item: tuple[int, str]) -> Iterator[MelPiece | AudioError]:
    """A worker's job: one file's pieces, or its ``AudioError`` (after any pieces sent)."""
    _, path = item
    try:
        for batch in stream_windows(path, PIECE_WINDOWS):
            yield MelPiece(log_mel(batch.samples), batch.padded, batch.last)
    except AudioError as exc:
        yield exc


def embed_in_processes(
    embed_mel: Callable[[np.ndarray], np.ndarray],
    paths: Sequence[str | os.PathLike[str]],
    workers: int,
) -> Iterator[tuple[str, TrackEmbedding | AudioError]]:
    """``(path, TrackEmbedding | AudioError)`` per file, in completion order; closing the
    generator stops the workers. ``embed_mel``: log-mel -> block-normalised vectors."""
    pending: dict[int, list[np.ndarray]] = {}
    padded: dict[int, bool] = {}
    items = [(i, os.fspath(p)) for i, p in enumerate(paths)]
    for got in decode_in_processes(items, mel_pieces, workers):
        if got is None:  # nothing arrived for a while: a cancellation point
            continue
        (index, path), piece = got
        if isinstance(piece, AudioError | Crashed):
            pending.pop(index, None)
            padded.pop(index, None)
            yield path, piece if isinstance(piece, AudioError) else AudioError(f"{path}: {piece.reason}")
            continue
        assert isinstance(piece, MelPiece)
        pending.setdefault(index, []).append(embed_mel(piece.mel))
        padded[index] = padded.get(index, False) or piece.padded
        if piece.last:
            vectors = np.concatenate(pending.pop(index))
            yield path, TrackEmbedding(vectors, track_vector(vectors), padded.pop(index))
