"""Search, library, playback and training services over fake backends, with real threads."""

from __future__ import annotations

import sys
from pathlib import Path

from app.core.player import Player
from app.core.types import SearchFilters, SearchWeights
from app.services.app_services import Services
from tests.app.services.fakes import write_tone
from tests.app.services.harness import make_services


def test_a_newer_query_wins_over_a_slower_older_one(qtbot, tmp_path: Path, qapp) -> None:
    s = make_services(tmp_path, search_delay_s=0.3)
    try:
        a = write_tone(tmp_path / "a.wav", 10.0)
        b = write_tone(tmp_path / "b.wav", 12.0)
        loaded: list[str] = []
        s.search.query_loaded.connect(lambda info: loaded.append(info.path))
        s.search.load_query(str(a))
        with qtbot.waitSignal(s.search.results_changed, timeout=10000):
            s.search.load_query(str(b))
        qtbot.wait(700)  # give the stale request time to (not) arrive
        assert loaded == [str(b)]
        assert s.search.query.path == str(b)
    finally:
        s.shutdown()


def test_weights_and_filters_rerank_synchronously(qtbot, services: Services, tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "q.wav", 8.0)
    with qtbot.waitSignal(services.search.results_changed, timeout=10000):
        services.search.load_query(str(clip))
    services.search.set_weights(SearchWeights(0, 0, 0, 1))
    assert services.search.results[0].track.title == "tempo_twin"
    services.search.set_filters(SearchFilters(bpm_min=95, bpm_max=115))
    assert {r.track.bpm for r in services.search.results} == {100.0, 110.0}
    services.search.set_weights(SearchWeights(0, 0, 0, 0))
    assert services.search.results == []


def test_mix_and_match_passes_the_reference_to_the_engine(qtbot, services: Services, tmp_path: Path) -> None:
    clip = write_tone(tmp_path / "q.wav", 8.0)
    ref = write_tone(tmp_path / "ref.wav", 8.0, freq=880)
    with qtbot.waitSignal(services.search.results_changed, timeout=10000):
        services.search.load_query(str(clip))
    with qtbot.waitSignal(services.search.reference_changed, timeout=10000) as blocker:
        services.search.set_reference("tempo", str(ref))
    assert blocker.args == ["tempo", str(ref)]
    assert services.search.backend.prepared[-1].path == str(ref)
    services.search.set_reference("tempo", None)
    assert services.search._references == {}


def test_cancel_indexing_stops_the_job_and_says_so(qtbot, tmp_path: Path, qapp) -> None:
    s = make_services(tmp_path, index_steps=10_000)
    try:
        messages: list[str] = []
        s.library.indexing_finished.connect(messages.append)
        with qtbot.waitSignal(s.library.progress_changed, timeout=5000):
            s.library.add_folder(str(tmp_path / "lib"))
        assert s.library.is_indexing
        with qtbot.waitSignal(s.library.indexing_changed, timeout=5000) as blocker:
            s.library.cancel()
        assert blocker.args == [False]
        backend = s.library.backend
        assert backend.closed.is_set()  # the generator's finally ran (core cleans up)
        assert 0 < backend.indexed < 10_000
        assert messages and messages[0].startswith("Indexing cancelled")
        assert s.settings.get("setting/library_folders") == (str(tmp_path / "lib"),)
    finally:
        s.shutdown()


def test_indexing_to_the_end_reports_count_and_failures(qtbot, services: Services, tmp_path: Path) -> None:
    summaries: list[tuple[int, list]] = []
    services.library.summary_changed.connect(lambda n, failed: summaries.append((n, failed)))
    with qtbot.waitSignal(services.library.indexing_finished, timeout=10000) as blocker:
        services.library.rescan()
    assert blocker.args[0] == "Library up to date: 4 tracks; 1 unreadable or missing."
    assert summaries[-1][0] == 4 and summaries[-1][1][0][0] == "/music/broken.mp3"


def test_training_writes_a_user_model_and_switches_on_request(qtbot, services: Services, tmp_path: Path) -> None:
    updates = []
    services.training.progress_changed.connect(updates.append)
    with qtbot.waitSignal(services.training.training_finished, timeout=10000) as blocker:
        services.training.start(str(tmp_path / "lib"), "tags", 3, "cpu")
    outcome = blocker.args[0]
    model = Path(outcome.model_path)
    assert model.parent == tmp_path / "models" and model.exists()
    assert [u.epoch for u in updates][-1] == 3
    with qtbot.waitSignal(services.training.active_model_changed, timeout=1000):
        services.training.use_model(str(model))
    assert services.settings.get("setting/active_model") == str(model)
    model.with_suffix(".onnx").write_bytes(b"twin")  # the real trainer writes one (model.export_onnx)
    services.training.discard(str(model))
    assert not model.exists() and not model.with_suffix(".onnx").exists()


def test_player_without_portaudio_is_unavailable_not_broken(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails as when absent
    player = Player()
    assert not player.available
    assert "libportaudio2" in player.reason
    assert player.play(__import__("numpy").zeros(22050, "float32"), 0.5) is False
    assert player.output_devices() == []
    player.pause()
    player.seek(0.2)
    player.stop()
    assert player.position_s == 0.2


def test_trainer_progress_becomes_one_based_epochs_with_a_whole_run_eta() -> None:
    from app.services.bootstrap import _update
    from model.train import TrainProgress

    step = _update(TrainProgress("train", 0, 5, 10, loss=0.5, rate=2.0, eta_s=2.5), epochs=3)
    assert (step.epoch, step.val_accuracy, step.message) == (1, {}, "step 5/10")
    assert step.eta_s == 2.5 + 2 * 10 / 2.0
    acc = {"genre": 0.7, "mood": 0.6, "instrument": 0.5, "tempo": 0.8}
    val = _update(TrainProgress("validate", 1, 10, 10, val_accuracy=acc), epochs=3)
    assert (val.epoch, val.val_accuracy) == (1, acc)
    done = _update(TrainProgress("done", 3, 0, 10, val_accuracy=acc, message="best epoch 2"), epochs=3)
    assert done.val_accuracy == {} and done.message == "best epoch 2"


def test_prefetch_decodes_each_upcoming_track_once(qtbot, services: Services, tmp_path: Path) -> None:
    paths = [str(tmp_path / "lib" / f"{n}.wav") for n in ("genre_twin", "tempo_twin", "mood_twin")]
    loads: list[str] = []
    cache = services.playback.player.cache
    original = cache._loader
    cache._loader = lambda p: (loads.append(p), original(p))[1]
    for _ in range(20):  # e.g. a slider drag re-ranking twenty times
        services.playback.prefetch(paths)
    qtbot.waitUntil(lambda: all(cache.get(p) is not None for p in paths), timeout=10000)
    services.pools.wait(2000)
    assert sorted(loads) == sorted(paths)


def test_quitting_mid_training_leaves_the_run_resumable(qtbot, tmp_path: Path, qapp) -> None:
    s = make_services(tmp_path)
    s.training._factory().epoch_s = 0.05
    with qtbot.waitSignal(s.training.progress_changed, timeout=5000):
        s.training.start(str(tmp_path / "lib"), "tags", 500, "cpu")
    (Path(s.training._output).with_name(Path(s.training._output).stem + ".training") / "last.pt").write_bytes(b"x")
    s.shutdown()  # the app quits
    assert not Path(s.training._output).exists()  # not turned into a finished model
    runs = s.training.interrupted_runs()
    assert len(runs) == 1 and runs[0].resume and runs[0].epochs == 500


def test_slider_moves_are_prepared_after_the_results_and_again_for_new_filters(
    qtbot, services: Services, tmp_path: Path
) -> None:
    search = services.search
    with qtbot.waitSignal(search.moves_prepared, timeout=10000) as prepared:
        search.load_query(str(write_tone(tmp_path / "q.wav", 8.0)))
    assert prepared.args == [4] and search.results  # the four tracks, after the results
    search.set_weights(SearchWeights(0, 0, 0, 1))
    assert not search.preparing  # a slider move re-ranks what was prepared
    with qtbot.waitSignal(search.moves_prepared, timeout=10000):
        search.set_filters(SearchFilters(bpm_min=95))
    search.set_filters(SearchFilters(bpm_min=105))
    assert search.preparing
    search.load_query(str(write_tone(tmp_path / "q2.wav", 8.0)))
    assert not search.preparing  # the new query's embedding comes first
    with qtbot.waitSignal(search.moves_prepared, timeout=10000):
        pass  # and its results start it again


def test_preparing_runs_in_short_slices_and_stops_for_a_new_query(
    qtbot, services: Services, tmp_path: Path, monkeypatch
) -> None:
    """An event posted while moves are being prepared waits one slice at most."""
    import time

    from PySide6.QtCore import QTimer

    from app.services import search_service

    steps: list[int] = []
    waited: list[int] = []  # steps run between posting an event and its delivery
    closed: list[bool] = []

    def endless(*_args):  # noqa: ANN002, ANN202
        try:
            while True:
                time.sleep(0.001)
                steps.append(len(steps))
                if len(steps) % 25 == 0:
                    posted = len(steps)
                    QTimer.singleShot(0, lambda p=posted: waited.append(len(steps) - p))
                yield len(steps)
        finally:
            closed.append(True)

    monkeypatch.setattr(services.search.backend, "prepare_moves", endless, raising=False)
    monkeypatch.setattr(search_service, "PREPARE_SLICE_S", 0.005)
    with qtbot.waitSignal(services.search.results_changed, timeout=10000):
        services.search.load_query(str(write_tone(tmp_path / "q.wav", 8.0)))
    qtbot.waitUntil(lambda: len(waited) >= 4, timeout=5000)
    assert max(waited) <= 6  # 5 ms slices of 1-ms steps
    services.search.load_query(str(write_tone(tmp_path / "q2.wav", 8.0)))
    assert closed == [True] and not services.search.preparing
    qtbot.waitSignal(services.search.results_changed, timeout=10000).wait()


def test_moves_are_prepared_again_after_the_library_changes(qtbot, services: Services, tmp_path: Path) -> None:
    """After indexing or a sync the backend searches a new engine, which has nothing prepared:
    the next move prepares again (before, the same query and filters counted as prepared)."""
    search = services.search
    with qtbot.waitSignal(search.moves_prepared, timeout=10000):
        search.load_query(str(write_tone(tmp_path / "q.wav", 8.0)))
    search.set_weights(SearchWeights(0, 0, 0, 1))
    assert not search.preparing  # nothing new: the same query and filters
    with qtbot.waitSignal(services.library.summary_changed, timeout=10000):
        services.library.refresh()  # as after an index run or a sync that found tracks
    with qtbot.waitSignal(search.moves_prepared, timeout=10000):
        search.set_weights(SearchWeights(1, 0, 0, 1))
