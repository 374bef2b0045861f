"""Indexing keeps today's embeddings: cosine >= .999 on real music (issue 14's contract).

The pipeline ``soundalike index`` runs (``app.core.indexer.decode_file``'s windows, as its
decoder workers send them, embedded by the shipped model's ONNX export, the CPU runtime)
is compared with the reference it replaced, written out here so that it cannot drift with
the code under test: libsndfile decoding, channel average, soxr HQ to 22 050 Hz, the torch
network in float32 and in the CPU's own precision (bf16 where the CPU has it).

Real music: the shipped demo clips (Vorbis, always present), and, where the worktree has
the real-music corpus (``data/debs``, gitignored: unpacked Debian game soundtracks, never
the held-out packages), three 44.1 kHz stereo Vorbis songs, which take the resampler.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import soxr

from app.core.indexer import decode_file
from app.core.scanner import ScannedFile
from model.audio import SAMPLE_RATE, split_windows
from model.corpus.debian import HELD_OUT_PACKAGES

ROOT = Path(__file__).resolve().parents[3]
SHIPPED = ROOT / "resources" / "models" / "default.pt"
DEMO = sorted((ROOT / "resources" / "demo").glob("*.ogg"))[:2]
CORPUS = ROOT / "data" / "debs"


def corpus_songs(count: int = 3, longest_s: float = 120.0) -> list[Path]:
    """The first ``count`` 44.1 kHz stereo Vorbis songs of 30 s to ``longest_s`` in the corpus."""
    if not CORPUS.is_dir():
        return []
    found = []
    for path in sorted(CORPUS.rglob("*.ogg")):
        if any(package in str(path) for package in HELD_OUT_PACKAGES):
            continue
        info = sf.info(str(path))
        if (info.samplerate, info.channels) == (44100, 2) and 30 <= info.duration <= longest_s:
            found.append(path)
        if len(found) == count:
            break
    return found


def reference_windows(path: Path) -> np.ndarray:
    """Today's decoding: libsndfile, channel mean, soxr HQ, non-overlapping windows."""
    data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    mono = data.mean(axis=1)
    if rate != SAMPLE_RATE:
        mono = soxr.resample(mono, rate, SAMPLE_RATE, quality="HQ")
    return split_windows(mono)[0]


def pipeline_windows(path: Path) -> np.ndarray:
    file = ScannedFile(str(path), path.stat().st_size, path.stat().st_mtime_ns)
    pieces = list(decode_file(file))
    assert pieces[-1].last and not pieces[-1].error, pieces[-1].error
    return np.concatenate([p.windows for p in pieces])


@pytest.fixture(scope="module")
def encoders():  # noqa: ANN201
    from model.encoder import Encoder
    from model.onnx_encoder import load_onnx_encoder

    if not SHIPPED.is_file():
        pytest.skip("no shipped model")
    onnx = load_onnx_encoder(SHIPPED, threads=1, device="cpu")
    assert onnx is not None, "the shipped model's ONNX export must load (tests/model/test_shipped_onnx.py)"
    torch_encoders = {p: Encoder.load(SHIPPED, device="cpu", precision=p, threads=1) for p in ("fp32", "auto")}
    return onnx, torch_encoders


@pytest.mark.parametrize("path", DEMO + corpus_songs(), ids=lambda p: p.name)
def test_index_pipeline_keeps_todays_embeddings(path: Path, encoders) -> None:
    onnx, torch_encoders = encoders
    reference = reference_windows(path)
    windows = pipeline_windows(path)
    assert windows.shape == reference.shape
    new = onnx.embed_windows(windows)
    for precision, encoder in torch_encoders.items():
        today = encoder.embed_windows(reference)
        per_window = np.sum(new * today, axis=1) / 4  # four unit blocks: the full vector's cosine
        assert per_window.min() >= 0.999, (precision, encoder.precision, per_window.min())
        track_new, track_today = (normalize(v.mean(axis=0)) for v in (new, today))
        per_block = np.sum((track_new * track_today).reshape(4, 64), axis=1)
        assert per_block.min() >= 0.999, (precision, encoder.precision, per_block)


def normalize(vector: np.ndarray) -> np.ndarray:
    from model.dimensions import normalize_blocks

    return normalize_blocks(vector)


def test_indexing_on_onnx_sends_log_mel_and_stores_the_same_vectors(tmp_path: Path) -> None:
    """With the ONNX encoder the decoder workers send log-mel (``embed_mel``), not waveforms;
    the catalog must hold what embedding the waveforms gives."""
    pytest.importorskip("onnx")
    from app.core.catalog import Catalog
    from app.core.indexer import IndexSummary, index_folders
    from model.export_onnx import export
    from model.onnx_encoder import load_onnx_encoder
    from tests.app.library_helpers import make_library, make_model

    model = make_model(tmp_path / "m.pt")
    export(model)
    encoder = load_onnx_encoder(model, threads=1, device="cpu")
    assert encoder is not None
    paths = make_library(tmp_path / "music", n=3, seconds=8.0)
    file = ScannedFile(str(paths[0]), paths[0].stat().st_size, paths[0].stat().st_mtime_ns)
    (piece,) = decode_file(file, mel=True)
    assert piece.windows is not None and piece.windows.shape[1:] == (1, 128, 129)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        summary = IndexSummary()
        for _ in index_folders(catalog, [tmp_path / "music"], encoder, summary=summary, workers=1):
            pass
        assert (summary.added, summary.failed) == (3, [])
        table = catalog.load_track_vectors(encoder.model_id)
        for path in paths:
            expected = normalize(encoder.embed_windows(pipeline_windows(path)).mean(axis=0))
            row = table.paths.index(str(path))
            np.testing.assert_allclose(table.vectors[row], expected, atol=2e-3)  # stored as float16
