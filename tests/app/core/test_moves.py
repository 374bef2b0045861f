"""Files are known by content: moves, copies, missing files and returning drives."""

from __future__ import annotations

import os
import shutil

import pytest

from app.core.catalog import Catalog
from app.core.indexer import IndexSummary, index_folders
from app.core.library import Library
from tests.app.library_helpers import make_library, make_model
from tests.synth_audio import music_like, write_audio


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    from model.encoder import Encoder

    return Encoder.load(make_model(tmp_path_factory.mktemp("model") / "m.pt"), device="cpu")


def _index(catalog, folder, encoder) -> tuple[IndexSummary, int]:
    """Run the indexer; returns the summary and how many files it decoded."""
    summary = IndexSummary()
    progress = list(index_folders(catalog, [folder], encoder, summary=summary, workers=0))
    return summary, int(progress[-1].total or 0) if progress else 0


def _searched_paths(catalog, encoder) -> set[str]:
    return set(catalog.load_track_vectors(encoder.model_id).paths)


def test_moving_every_file_keeps_vectors_and_decodes_nothing(tmp_path, encoder) -> None:
    music = tmp_path / "music"
    old = make_library(music, n=4, seconds=7)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        assert _index(catalog, music, encoder)[1] == 4
        ids = {p.name: catalog.find_track(str(p)).track_id for p in old}
        new = []
        for path in old:  # reorganise: everything into music/2024/, one file renamed too
            target = music / "2024" / ("renamed.wav" if path.name == "track1.wav" else path.name)
            target.parent.mkdir(exist_ok=True)
            new.append(path.rename(target))
        summary, decoded = _index(catalog, music, encoder)
        assert (decoded, summary.moved, summary.missing, summary.added) == (0, 4, 0, 0)
        assert _searched_paths(catalog, encoder) == {str(p) for p in new}  # only the new paths
        assert {catalog.find_track(str(n)).track_id for n in new} == set(ids.values())
        assert catalog.track_count() == 4 and catalog.integrity_problems() == []


def test_missing_files_leave_results_and_come_back_without_decoding(tmp_path, encoder) -> None:
    music, drive = tmp_path / "music", tmp_path / "music" / "drive"
    kept = make_library(music / "local", n=2, seconds=7)
    away = make_library(drive, n=2, seconds=7)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        _index(catalog, music, encoder)
        shutil.move(drive, tmp_path / "unplugged")  # the drive is unplugged
        summary, decoded = _index(catalog, music, encoder)
        assert (summary.missing, decoded) == (2, 0)
        assert {t.path for t in catalog.tracks("missing")} == {str(p) for p in away}
        assert _searched_paths(catalog, encoder) == {str(p) for p in kept}
        shutil.move(tmp_path / "unplugged", drive)  # plugged in again
        summary, decoded = _index(catalog, music, encoder)
        assert (summary.returned, decoded, catalog.track_count("missing")) == (2, 0, 0)
        assert _searched_paths(catalog, encoder) == {str(p) for p in kept + away}
        shutil.move(drive, tmp_path / "moved")  # found in another folder: a move, not a decode
        shutil.move(tmp_path / "moved", music / "elsewhere")
        summary, decoded = _index(catalog, music, encoder)
        assert (summary.moved, summary.missing, decoded) == (2, 0, 0)


def test_copies_share_vectors_and_the_query_excludes_its_duplicates(tmp_path, encoder) -> None:
    music = tmp_path / "music"
    paths = make_library(music, n=3, seconds=9)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        _index(catalog, music, encoder)
        copy = shutil.copy2(paths[0], music / "copy of track0.flac")
        summary, decoded = _index(catalog, music, encoder)
        assert (summary.copied, decoded, catalog.track_count("ok")) == (1, 0, 4)
        link = tmp_path / "query.flac"
        link.symlink_to(paths[0])  # the same file through a link outside the library
        library = Library(catalog, encoder)
        found = [r.track.path for r in library.search(library.prepare_query(link), k=4)]
        assert str(paths[0]) not in found and str(copy) not in found and len(found) == 2
        every = library.search(library.prepare_query(link), k=4, exclude_query_files=False)
        assert {r.track.path for r in every[:2]} == {str(paths[0]), str(copy)}


def test_a_file_rewritten_in_place_is_decoded_again(tmp_path, encoder) -> None:
    music = tmp_path / "music"
    paths = make_library(music, n=2, seconds=7)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        _index(catalog, music, encoder)
        os.rename(paths[0], tmp_path / "tmp")  # swap two names: both are decoded, nothing lost
        os.rename(paths[1], paths[0])
        os.rename(tmp_path / "tmp", paths[1])
        write_audio(music / "new.wav", music_like(6.0, seed=9))
        summary, decoded = _index(catalog, music, encoder)
        assert catalog.track_count("ok") == 3 and catalog.integrity_problems() == []
        assert (decoded, summary.added, summary.updated, summary.moved) == (3, 1, 2, 0)


def test_a_run_with_nothing_to_embed_never_loads_the_encoder(tmp_path, encoder) -> None:
    from app.core.lazy_encoder import LazyEncoder

    music = tmp_path / "music"
    paths = make_library(music, n=2, seconds=6)
    loads = []

    def load(path, bulk):
        loads.append(path)
        return encoder

    with Catalog.open(tmp_path / "lib.db") as catalog:
        lazy = LazyEncoder(encoder.info.path, load)
        assert lazy.model_id == encoder.model_id
        _index(catalog, music, lazy)
        assert len(loads) == 1  # new files: loaded once
        lazy = LazyEncoder(encoder.info.path, load)
        paths[0].rename(music / "moved.flac")
        summary, decoded = _index(catalog, music, lazy)
        assert (summary.moved, decoded, lazy.loaded, len(loads)) == (1, 0, False, 1)


def test_a_file_that_vanishes_mid_run_is_tried_again_next_run(tmp_path, encoder) -> None:
    music = tmp_path / "music"
    paths = make_library(music, n=3, seconds=6)
    with Catalog.open(tmp_path / "lib.db") as catalog:
        summary = IndexSummary()
        for progress in index_folders(catalog, [music], encoder, summary=summary, workers=0):
            if progress.done == 0 and progress.total:  # planned: now the drive goes away
                paths[2].rename(tmp_path / "away.wav")
        assert [p for p, _ in summary.failed] == [str(paths[2])]
        assert catalog.find_track(str(paths[2])).status == "pending"  # not recorded as broken
        (tmp_path / "away.wav").rename(paths[2])
        summary, decoded = _index(catalog, music, encoder)
        assert (decoded, catalog.track_count("ok")) == (1, 3)


def test_tracks_under_a_folder_that_could_not_be_listed_are_not_missing(tmp_path) -> None:
    import numpy as np

    from app.core.catalog import TrackRecord
    from app.core.index_plan import make_plan
    from app.core.scanner import ScannedFile
    from model.dimensions import normalize_blocks

    windows = normalize_blocks(np.ones((1, 256), np.float32))
    records = [TrackRecord(f"/lib/{d}/t.wav", 1, 1, 3.0, {}, "m", track=windows[0], windows=windows, fingerprint=d)
               for d in ("locked", "gone", "here")]  # fmt: skip
    with Catalog.open(tmp_path / "lib.db") as catalog:
        catalog.write_batch(records)
        summary = IndexSummary(problems=[("/lib/locked", "cannot list folder: Permission denied")])
        job = make_plan(catalog, [ScannedFile("/lib/here/t.wav", 1, 1)], ["/lib"], "m", summary)
        with pytest.raises(StopIteration) as done:  # no progress to report for so few files
            next(job)
        gone = catalog.find_track("/lib/gone/t.wav").track_id
    plan = done.value.value
    assert plan.missing == [gone] and summary.unchanged == 1 and plan.forget == []
