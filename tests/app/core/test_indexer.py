"""Indexing real audio files with a real (random-init) encoder into a real catalog."""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

from app.core.catalog import Catalog
from app.core.indexer import IndexSummary, index_folders
from app.core.library import Library
from app.core.query import SearchError
from app.core.types import SearchWeights
from tests.app.library_helpers import WINDOW_S, make_library, make_model
from tests.synth_audio import music_like, write_audio


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from model.encoder import Encoder

    return Encoder.load(make_model(tmp_path_factory.mktemp("model") / "m.pt"), device="cpu")


def _run(catalog, folders, encoder, **kw) -> tuple[IndexSummary, list]:
    summary = IndexSummary()
    progress = list(index_folders(catalog, folders, encoder, summary=summary, **kw))
    return summary, progress


def test_index_then_incremental_reindex(tmp_path, encoder) -> None:
    paths = make_library(tmp_path / "music")
    catalog = Catalog.open(tmp_path / "lib.db")
    summary, progress = _run(catalog, [tmp_path / "music"], encoder)
    assert (summary.added, summary.failed, catalog.track_count("ok")) == (5, [], 5)
    last = progress[-1]
    assert last.done == last.total == 5 and last.rate > 0 and last.eta_s == 0

    # Nothing changed: nothing is decoded again.
    summary, _ = _run(catalog, [tmp_path / "music"], encoder)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 0, 5)

    # One file changes, one is deleted, one is new.
    write_audio(paths[1], music_like(9.0, seed=42))
    os.utime(paths[1], ns=(1, 1))
    paths[2].unlink()
    write_audio(tmp_path / "music" / "new.wav", music_like(8.0, seed=7))
    summary, _ = _run(catalog, [tmp_path / "music"], encoder)
    assert (summary.added, summary.updated, summary.missing, summary.unchanged) == (1, 1, 1, 3)
    assert (catalog.track_count("ok"), catalog.track_count("missing")) == (5, 1)
    assert str(paths[2]) not in catalog.load_track_vectors(encoder.model_id).paths
    assert catalog.find_track(str(paths[1])).duration_s == pytest.approx(9.0, abs=0.05)
    assert catalog.integrity_problems() == []
    catalog.close()


def test_model_change_reembeds(tmp_path, encoder) -> None:
    from model.encoder import Encoder

    make_library(tmp_path / "music", n=2, seconds=7)
    catalog = Catalog.open(tmp_path / "lib.db")
    _run(catalog, [tmp_path / "music"], encoder, workers=0)
    other = Encoder.load(make_model(tmp_path / "other.pt", seed=1), device="cpu")
    assert Library(catalog, other).stale_count() == 2
    summary, _ = _run(catalog, [tmp_path / "music"], other, workers=0)
    assert summary.reembedded == 2
    assert catalog.model_counts() == {other.model_id: 2}
    catalog.close()


def test_malformed_files_are_recorded_and_skipped(tmp_path, encoder) -> None:
    music = tmp_path / "music"
    make_library(music, n=2, seconds=7)
    (music / "empty.wav").write_bytes(b"")
    (music / "garbage.mp3").write_bytes(os.urandom(4096))
    (music / "text.flac").write_text("not audio at all")
    good = write_audio(music / "cut.wav", music_like(10.0, seed=3))
    (music / "truncated.wav").write_bytes(good.read_bytes()[: len(good.read_bytes()) // 3])
    (music / "folder.mp3").mkdir()
    write_audio(music / "tiny.wav", music_like(0.5, seed=4))  # shorter than one window
    catalog = Catalog.open(tmp_path / "lib.db")
    summary, _ = _run(catalog, [music], encoder)
    failed = dict(summary.failed)
    assert set(failed) == {str(music / n) for n in ("empty.wav", "garbage.mp3", "text.flac", "truncated.wav")}
    assert all(reason and "\n" not in reason for reason in failed.values())
    assert dict(catalog.errors()) == failed
    assert catalog.track_count("ok") == 4  # 2 tracks + cut.wav + tiny.wav (padded)
    # Failed files are not retried while unchanged.
    summary, _ = _run(catalog, [music], encoder)
    assert summary.failed == [] and summary.unchanged == 8
    catalog.close()


def test_cancel_stops_promptly_and_keeps_finished_batches(tmp_path, encoder) -> None:
    make_library(tmp_path / "music", n=6, seconds=7)
    catalog = Catalog.open(tmp_path / "lib.db")
    stop = threading.Event()
    summary = IndexSummary()
    for progress in index_folders(catalog, [tmp_path / "music"], encoder, cancel=stop,
                                  summary=summary, max_batch_tracks=2, workers=0):
        if progress.done >= 2:
            stop.set()
    assert summary.cancelled
    assert 2 <= catalog.track_count("ok") < 6
    library = Library(catalog, encoder)
    before = len(library)
    summary, _ = _run(catalog, [tmp_path / "music"], encoder, workers=0)  # resume
    assert catalog.track_count("ok") == 6 and catalog.track_count() == 6
    assert len(library) == before  # the loaded engine is unchanged until reload()
    library.reload()
    assert len(library) == 6
    catalog.close()


def test_query_cut_from_a_library_track_finds_it_at_that_offset(tmp_path, encoder) -> None:
    paths = make_library(tmp_path / "music", n=4, seconds=20)
    catalog = Catalog.open(tmp_path / "lib.db")
    _run(catalog, [tmp_path / "music"], encoder, workers=0)
    library = Library(catalog, encoder)
    target = str(paths[3])  # 29 s: 9 windows
    from model.audio import load_audio

    samples = load_audio(target)
    for start_w in (2, 5):
        clip = samples[int(start_w * WINDOW_S * 22050) : int((start_w + 3) * WINDOW_S * 22050)]
        query = library.prepare_query(clip)
        best = library.search(query, SearchWeights(), k=4)[0]
        assert best.track.path == target
        assert best.offset_s == pytest.approx(start_w * WINDOW_S, abs=0.01)
        assert best.dimensions["genre"] == pytest.approx(1.0, abs=1e-2)
    # The same through a file region; the query file itself is excluded unless asked.
    query = library.prepare_query(target, start_s=5 * WINDOW_S, end_s=8 * WINDOW_S)
    assert target not in [r.track.path for r in library.search(query, k=4)]
    best = library.search(query, k=1, exclude_query_files=False)[0]
    assert (best.track.path, round(best.offset_s / WINDOW_S)) == (target, 5)
    short = library.prepare_query(samples[:5000])  # under a quarter second: one padded window
    assert short.padded and short.spans == (1, 1, 1, 1)
    assert len(library.search(short, k=2)) == 2
    with pytest.raises(SearchError, match="cannot read query"):
        library.prepare_query(tmp_path / "music" / "missing.wav")
    with pytest.raises(SearchError):
        library.prepare_query(np.zeros(0, np.float32))
    catalog.close()


def test_a_temp_track_in_the_cuts_video_file_is_a_query(tmp_path, encoder) -> None:
    """Editors often have the temp track only as the cut's video (.mov/.mp4): its soundtrack
    is decoded in process (model.av_formats, no ffmpeg) and a region of it finds the track."""
    from model.audio import load_audio
    from tests.synth_audio import write_m4a

    paths = make_library(tmp_path / "music", n=4, seconds=20)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        _run(catalog, [tmp_path / "music"], encoder, workers=0)
        library = Library(catalog, encoder)
        target = str(paths[3])
        video = write_m4a(tmp_path / "cut.mov", load_audio(target), 22050)  # AAC in a QuickTime movie
        best = library.search(library.prepare_query(video, start_s=5 * WINDOW_S, end_s=8 * WINDOW_S), k=1)[0]
    assert (best.track.path, round(best.offset_s / WINDOW_S)) == (target, 5)


def crash_on_bomb(file):
    """A decode job that kills its worker process for files named *bomb* (a decoder crash)."""
    from app.core.indexer import Decoded

    if "bomb" in file.path:
        os._exit(1)
    yield Decoded(file, np.zeros((1, 4), np.float32), False, 1.0, {}, last=False)
    yield Decoded(file, np.zeros((1, 4), np.float32), False, 2.0, {})


def test_a_file_that_kills_its_decoder_is_recorded_and_the_rest_survive() -> None:
    from app.core.scanner import ScannedFile
    from model.decode_pool import Crashed, decode_in_processes

    files = [ScannedFile(f"/m/{name}.wav", 1, 1) for name in ("a", "b", "bomb", "c", "d")]
    pieces: dict[str, list] = {}
    for item in decode_in_processes(files, crash_on_bomb, workers=1):
        if item is not None:
            pieces.setdefault(item[0].path, []).append(item[1])
    assert sorted(pieces) == sorted(f.path for f in files)
    assert [type(p) for p in pieces["/m/bomb.wav"]] == [Crashed]
    assert "crashed" in pieces["/m/bomb.wav"][0].reason
    for name in ("a", "b", "c", "d"):
        assert [p.last for p in pieces[f"/m/{name}.wav"]] == [False, True]


def test_long_files_stream_in_pieces_and_index_as_one(tmp_path, encoder, monkeypatch) -> None:
    """A file crosses from its decoder in bounded pieces; its record is the same as whole."""
    import app.core.indexer as indexer
    from app.core.scanner import ScannedFile

    (tmp_path / "music").mkdir()
    path = write_audio(tmp_path / "music" / "long.flac", music_like(20.0, seed=3, sr=44100), 44100)
    _run(Catalog.open(tmp_path / "whole.db"), [tmp_path / "music"], encoder, workers=1)
    monkeypatch.setattr(indexer, "PIECE_WINDOWS", 2)
    pieces = list(indexer.decode_file(ScannedFile(str(path), 1, 1), native=True))
    assert [len(p.windows) for p in pieces] == [2, 2, 2] and pieces[0].windows.shape[1] == 2 * 65536
    assert [p.last for p in pieces] == [False, False, True] and pieces[-1].duration_s == pytest.approx(20.0)
    streamed = Catalog.open(tmp_path / "streamed.db")
    summary, _ = _run(streamed, [tmp_path / "music"], encoder, workers=0, batch_windows=3)
    assert summary.added == 1 and not summary.failed
    whole = Catalog.open(tmp_path / "whole.db")
    a, b = (c.window_vectors([c.find_track(str(path)).track_id], encoder.model_id).popitem()[1]
            for c in (whole, streamed))  # fmt: skip
    assert a.shape == b.shape == (6, 256)
    np.testing.assert_allclose(a, b, atol=1e-3)


def test_index_measures_bpm_and_loudness_from_the_audio(tmp_path, encoder, monkeypatch) -> None:
    """Measured piece by piece as the decoder streams (pieces of 2 windows here)."""
    import app.core.indexer as indexer
    from tests.synth_audio import clicks

    monkeypatch.setattr(indexer, "PIECE_WINDOWS", 2)
    music = tmp_path / "music"
    music.mkdir()
    write_audio(music / "beat.wav", clicks(120.0, 20.0, amplitude=0.5))
    song = music_like(20.0, seed=1, bpm=100.0)
    write_audio(music / "loud.wav", 0.9 * song)
    write_audio(music / "quiet.wav", 0.09 * song)
    catalog = Catalog.open(tmp_path / "lib.db")
    _run(catalog, [music], encoder, workers=0)
    beat, loud, quiet = (catalog.find_track(str(music / n)) for n in ("beat.wav", "loud.wav", "quiet.wav"))
    assert min(abs(beat.bpm * f - 120.0) for f in (1.0, 2.0, 0.5)) < 2.4
    assert loud.loudness_lufs - quiet.loudness_lufs == pytest.approx(20.0, abs=0.3)
    catalog.close()


def test_a_track_marked_indexed_without_vectors_is_embedded_again(tmp_path, encoder) -> None:
    """What ``soundalike check`` reports as "marked indexed without vectors" is repaired by
    the next index run (the app's Rescan), which re-embeds only those files."""
    import sqlite3

    from app.core.catalog_check import check_catalog

    paths = make_library(tmp_path / "music", n=3, seconds=7)
    catalog = Catalog.open(tmp_path / "lib.db")
    _run(catalog, [tmp_path / "music"], encoder, workers=0)
    with sqlite3.connect(tmp_path / "lib.db") as raw:  # an outside hand, foreign keys off
        raw.execute("DELETE FROM embeddings WHERE track_id = (SELECT id FROM tracks WHERE path = ?)",
                    (os.fsencode(str(paths[1])),))  # fmt: skip
    raw.close()
    assert "1 tracks marked indexed have no vectors" in check_catalog(tmp_path / "lib.db").problems[0]
    assert len(catalog.load_track_vectors(encoder.model_id)) == 2
    summary, _ = _run(catalog, [tmp_path / "music"], encoder, workers=0)
    assert (summary.added, summary.updated, summary.unchanged) == (0, 1, 2)
    assert check_catalog(tmp_path / "lib.db").ok
    assert str(paths[1]) in catalog.load_track_vectors(encoder.model_id).paths
    catalog.close()


def test_the_decoders_start_before_a_lazy_encoder_loads(tmp_path, encoder) -> None:
    """The decoder processes start first and the model loads while they decode (a core stood
    idle for most of a second otherwise): a lazy encoder says what they must send
    (``native_rates``) without loading, and its load finds them running."""
    import multiprocessing
    import time

    from app.core.lazy_encoder import LazyEncoder

    make_library(tmp_path / "music", n=2)
    decoders_at_load = []

    def load(path, bulk):  # noqa: ANN001, ANN202
        deadline = time.monotonic() + 30.0
        while not any(p.name == "decoder" for p in multiprocessing.active_children()):
            if time.monotonic() > deadline:
                break
            time.sleep(0.01)
        decoders_at_load.append(sum(p.name == "decoder" for p in multiprocessing.active_children()))
        return encoder

    lazy = LazyEncoder(encoder.info.path, load)
    assert (lazy.native_rates, lazy.loaded) == (False, False)
    assert LazyEncoder(encoder.info.path, load, on_gpu=True).native_rates  # waveforms for a GPU
    with Catalog.open(tmp_path / "lib.db") as catalog:
        summary, _ = _run(catalog, [tmp_path / "music"], lazy, workers=1)
        assert (summary.added, summary.failed, decoders_at_load) == (2, [], [1])


def test_a_few_files_load_the_encoder_that_starts_fastest(tmp_path, encoder) -> None:
    """OpenVINO's start costs more than it saves on a few songs (the app indexing one new
    file): a lazy encoder told of them loads for them (``bulk`` False: onnxruntime), and
    their decoders send log-mel even where a bulk load would have gone to a GPU."""
    from app.core.lazy_encoder import LazyEncoder
    from model.onnx_encoder import BULK_MIN_BYTES, BULK_MIN_FILES, bulk_pays

    assert not bulk_pays(BULK_MIN_FILES - 1, BULK_MIN_BYTES - 1)
    assert bulk_pays(BULK_MIN_FILES, 0) and bulk_pays(1, BULK_MIN_BYTES)  # many files, or long ones
    make_library(tmp_path / "music", n=2)
    loads = []

    def load(path, bulk):  # noqa: ANN001, ANN202
        loads.append((bulk, lazy.native_rates))  # what the decoders were told to send
        return encoder

    lazy = LazyEncoder(encoder.info.path, load, on_gpu=True)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        summary, _ = _run(catalog, [tmp_path / "music"], lazy, workers=0)
    assert (summary.added, loads) == (2, [(False, False)])  # log-mel: the few-files load is the CPU's


def test_a_model_that_fails_to_load_stops_the_decoders_started_for_it(tmp_path, encoder) -> None:
    """A lazy encoder loads after the decoders start (a GPU that fails, a damaged file): its
    error reaches the caller with the decoder processes and their reader thread stopped,
    not left to whenever the error's traceback is dropped."""
    import multiprocessing

    from app.core.lazy_encoder import LazyEncoder

    make_library(tmp_path / "music", n=2)

    def load(path, bulk):  # noqa: ANN001, ANN202
        raise ValueError("CUDA failed: no device")

    with Catalog.open(tmp_path / "lib.db") as catalog, pytest.raises(ValueError, match="CUDA failed") as failed:
        _run(catalog, [tmp_path / "music"], LazyEncoder(encoder.info.path, load), workers=1)
    assert failed.value.__traceback__ is not None  # still held, as an error sink holds it
    assert not [t for t in threading.enumerate() if t.name == "decoder-pipes"]
    assert not [p for p in multiprocessing.active_children() if p.name == "decoder"]
