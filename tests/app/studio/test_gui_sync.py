"""The app on a studio's shared catalog: tracks another machine adds reach this editor's
search without a restart, while the results on screen stay put until the next search."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.catalog import Catalog, TrackRecord
from tests.app.services.harness import no_dangling_threads  # noqa: F401 - fails a test leaving threads
from tests.model_files import make_model
from tests.synth_audio import music_like, write_audio

NOTICE = "new tracks from the shared catalog; they join your next search."


def _tracks(model_id: str, names: list[str], seed: int) -> list[TrackRecord]:
    """Tracks as another machine's indexer writes them (vectors block-normalised)."""
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((len(names), 4, 64))
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    vectors = vectors.reshape(len(names), 256).astype(np.float16)
    return [TrackRecord(f"/studio/{name}.wav", 1, 1, 6.0, {"title": name}, model_id,
                        track=vectors[i], windows=vectors[i : i + 1]) for i, name in enumerate(names)]  # fmt: skip


@pytest.fixture
def studio_app(qtbot, pg_url, tmp_path, monkeypatch):
    """The real services and window over ``pg_url``, syncing every second, with 3 tracks
    already there; yields ``(services, window, writer)`` (the writer: another machine)."""
    from app.services.bootstrap import build_services
    from app.services.settings import Settings
    from app.ui.main_window import MainWindow
    from model.model_id import model_id_of

    model = make_model(tmp_path / "m.pt")
    monkeypatch.setenv("SOUNDALIKE_MODEL", str(model))
    monkeypatch.setenv("SOUNDALIKE_CONFIG_DIR", str(tmp_path / "config"))
    writer = Catalog.open(pg_url)
    writer.claim_model(model_id_of(model))
    writer.write_batch(_tracks(model_id_of(model), ["a", "b", "c"], seed=0))
    settings = Settings()
    settings.set("setting/library_catalog", pg_url)
    settings.set("setting/demo_added", True)
    settings.set("setting/catalog_sync_s", 1)
    services = build_services(settings)
    window = MainWindow(services)
    qtbot.addWidget(window)
    window.show()
    try:
        yield services, window, writer
    finally:
        services.shutdown()
        writer.close()


def test_another_machines_tracks_join_the_next_search_not_the_list_on_screen(studio_app, qtbot, tmp_path) -> None:
    from model.model_id import model_id_of

    s, window, writer = studio_app
    query = write_audio(tmp_path / "temp.wav", music_like(9.0, seed=7, bpm=100))
    with qtbot.waitSignal(s.search.results_changed, timeout=120_000) as first:
        s.search.load_query(str(query))
    assert sorted(r.track.title for r in first.args[0]) == ["a", "b", "c"]
    on_screen = list(s.search.results)

    writer.write_batch(_tracks(model_id_of(tmp_path / "m.pt"), ["d", "e", "f", "g"], seed=1))
    with qtbot.waitSignal(s.errors.notice_reported, timeout=60_000, check_params_cb=lambda m: NOTICE in m) as note:
        pass
    assert note.args[0] == f"4 {NOTICE}" and window.statusBar().currentMessage() == note.args[0]
    assert window.library_pane.count.text() == "7 tracks"
    assert s.search.results == on_screen and window.results.model().rowCount() == 3  # no jump

    s.search.rerank()  # the next slider move, filter or query
    assert sorted(r.track.title for r in s.search.results) == list("abcdefg")
    assert window.results.model().rowCount() == 7


def test_a_lost_server_is_said_once_and_its_return_too(studio_app, qtbot) -> None:
    """While the server is unreachable, the sync fails every interval: one sentence, not one
    per second; when it answers again, the app says so and syncs as before."""
    s, window, _writer = studio_app
    backend = s.library.backend
    real_sync, failures = backend.sync, []

    def unreachable():  # noqa: ANN202
        from app.core.catalog_io import CatalogError

        failures.append(1)
        raise CatalogError("cannot read library postgresql://studio/db: server closed the connection")

    backend.sync = unreachable
    with qtbot.waitSignal(s.errors.error_reported, timeout=30_000) as said:
        pass
    assert said.args[0].startswith("Syncing with the shared catalog failed: cannot read library")
    reported = []
    s.errors.error_reported.connect(reported.append)
    qtbot.waitUntil(lambda: len(failures) >= 3, timeout=30_000)
    assert reported == []
    backend.sync = real_sync
    with qtbot.waitSignal(s.errors.notice_reported, timeout=30_000) as back:
        pass
    assert back.args[0] == "The shared catalog is reachable again."
