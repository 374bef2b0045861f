"""Indexing on a real local Ray cluster into a real PostgreSQL catalog."""

from __future__ import annotations

import json
import os
import shutil
import signal

import pytest

from app.cli import main
from app.core.catalog import Catalog
from app.core.cluster_index import ClusterError, ClusterIndexer
from app.core.indexer import IndexSummary
from tests.app.library_helpers import WINDOW_S, make_library, make_model

N_TRACKS = 8


@pytest.fixture(scope="module")
def studio(tmp_path_factory):
    """A model, a music folder, and the same folder indexed into SQLite (the reference)."""
    base = tmp_path_factory.mktemp("studio")
    model = make_model(base / "m.pt")
    paths = make_library(base / "music", n=N_TRACKS, seconds=6)
    reference = base / "lib.db"
    assert main(["index", str(base / "music"), "--db", str(reference), "--model", str(model),
                 "--workers", "0"]) == 0  # fmt: skip
    return base, model, paths, reference


def _vectors(db: str) -> dict[str, bytes]:
    with Catalog.open(db, create=False) as catalog:
        (model_id,) = catalog.model_counts()
        table = catalog.load_track_vectors(model_id)
        return {p: v.tobytes() for p, v in zip(table.paths, table.vectors, strict=True)}


def _search(capsys, db: str, model, clip) -> list[dict]:
    args = [str(clip), "--start", str(WINDOW_S), "--end", str(3 * WINDOW_S), "--include-self"]
    assert main(["search", *args, "--db", db, "--model", str(model), "-k", "5", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_cluster_index_searches_like_the_local_library(studio, pg_url, ray_cluster, capsys) -> None:
    base, model, paths, reference = studio
    capsys.readouterr()
    assert main(["index", str(base / "music"), "--db", pg_url, "--model", str(model), "--cluster", "local"]) == 0
    err = capsys.readouterr().err
    assert f"{N_TRACKS} added" in err and f"indexed {N_TRACKS}/{N_TRACKS} files on 2 workers" in err
    assert _vectors(pg_url) == _vectors(str(reference))
    for clip in (paths[3], paths[6]):
        assert _search(capsys, pg_url, model, clip) == _search(capsys, str(reference), model, clip)
    # Nothing changed: a second cluster run embeds nothing (and starts no workers).
    assert main(["index", str(base / "music"), "--db", pg_url, "--model", str(model), "--cluster", "local"]) == 0
    assert f"{N_TRACKS} unchanged" in capsys.readouterr().err
    # Another model on the shared library is refused in one line, before any work.
    other = make_model(base / "other.pt", seed=1)
    assert main(["index", str(base / "music"), "--db", pg_url, "--model", str(other)]) == 1
    assert "every machine must use the same model file" in capsys.readouterr().err


def test_a_killed_worker_loses_nothing(studio, pg_url, ray_cluster) -> None:
    base, model, _paths, reference = studio
    catalog = Catalog.open(pg_url)
    indexer = ClusterIndexer(catalog, model, chunk_files=1)
    summary, killed = IndexSummary(), []
    for progress in indexer.run([base / "music"], summary=summary):
        if progress.done and not killed:
            killed.append(indexer.worker_pids()[0])
            os.kill(killed[0], signal.SIGKILL)  # mid-run: it has a chunk running and one queued
    assert killed and summary.lost_workers == 1 and not summary.failed
    assert catalog.track_count("ok") == N_TRACKS and catalog.track_count("pending") == 0
    assert _vectors(pg_url) == _vectors(str(reference))
    catalog.close()


def test_a_worker_seeing_another_model_file_is_refused_and_the_run_resumes(studio, pg_url, ray_cluster, tmp_path) -> None:
    base, model, _paths, reference = studio
    shared = shutil.copy(model, tmp_path / "shared.pt")
    catalog = Catalog.open(pg_url)
    indexer = ClusterIndexer(catalog, shared)
    make_model(tmp_path / "shared.pt", seed=2)  # the workers' machines have another file there
    with pytest.raises(ClusterError, match="is model .*, not the run's .*same model file"):
        list(indexer.run([base / "music"]))
    assert catalog.track_count("ok") == 0 and catalog.track_count("pending") == N_TRACKS
    shutil.copy(model, shared)  # fixed: the next run completes the pending files
    list(ClusterIndexer(catalog, shared).run([base / "music"]))
    assert catalog.track_count("ok") == N_TRACKS
    catalog.close()
