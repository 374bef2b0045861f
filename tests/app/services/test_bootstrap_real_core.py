"""The real services over the real core (catalog, indexer, encoder, search) with a small
untrained model made in the test: checks the adapters in app/services/bootstrap.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.synth_audio import music_like, write_audio


@pytest.fixture
def real_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from model.checkpoint import new_untrained_model, save_model, untrained_card
    from model.network import ModelDims

    model = tmp_path / "untrained.pt"
    save_model(model, new_untrained_model(0), ModelDims(), untrained_card(0))
    monkeypatch.setenv("SOUNDALIKE_MODEL", str(model))
    monkeypatch.setenv("SOUNDALIKE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SOUNDALIKE_CONFIG_DIR", str(tmp_path / "config"))
    lib = tmp_path / "lib"
    lib.mkdir()
    for i in range(5):
        write_audio(lib / f"t{i}.wav", music_like(7.0, seed=i, bpm=80 + 20 * i))
    write_audio(tmp_path / "query.wav", music_like(9.0, seed=42, bpm=100))
    return tmp_path


def test_first_launch_opens_on_the_demo_library(qapp, real_env: Path) -> None:
    from app.core.model_registry import DEMO_LIBRARY
    from app.services.bootstrap import build_services

    s = build_services()
    try:
        expected = [str(DEMO_LIBRARY)] if DEMO_LIBRARY.is_dir() and any(DEMO_LIBRARY.iterdir()) else []
        assert s.library.folders() == expected
        s.library.remove_folder(str(DEMO_LIBRARY)) if expected else None
        s.library.cancel()
    finally:
        s.shutdown()
    again = build_services()  # the demo is offered once, not forced back
    try:
        assert again.library.folders() == []
    finally:
        again.shutdown()


@pytest.mark.parametrize("exported", [False, True], ids=["torch", "onnx"])
def test_real_services_index_search_and_map(qtbot, real_env: Path, exported: bool) -> None:
    from app.services.bootstrap import build_services
    from app.services.settings import Settings

    if exported:  # queries then run on the ONNX export; indexing still on torch
        pytest.importorskip("onnx")
        pytest.importorskip("onnxruntime")
        from model.export_onnx import export

        export(real_env / "untrained.pt")
    settings = Settings()
    settings.set("setting/demo_added", True)  # this test indexes its own small library only
    s = build_services(settings)
    try:
        assert s.search.available
        encoder = s.search.backend.library.encoder
        assert type(encoder).__name__ == ("OnnxEncoder" if exported else "Encoder")
        if exported:  # a query is a few runs now and then: the runtime's threads sleep between them
            options = encoder.network.session.get_session_options()
            assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
        with qtbot.waitSignal(s.library.indexing_finished, timeout=120_000) as done:
            s.library.add_folder(str(real_env / "lib"))
        assert done.args[0] == "Library up to date: 5 tracks."
        with qtbot.waitSignal(s.search.results_changed, timeout=120_000) as got:
            s.search.load_query(str(real_env / "query.wav"))
        results = got.args[0]
        assert len(results) == 5
        assert all(set(r.dimensions) == {"genre", "mood", "instrument", "tempo"} for r in results)
        assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)
        s.search.set_weights(s.search.weights.__class__(1, 0, 0, 0))  # synchronous re-rank
        assert [round(r.score, 5) for r in s.search.results] == sorted(
            (round(r.dimensions["genre"], 5) for r in s.search.results), reverse=True)
        with qtbot.waitSignal(s.library.map_ready, timeout=60_000) as mapped:
            s.library.request_map("tempo", s.search.prepared_query)
        data = mapped.args[0]
        assert len(data.tracks) == 5 and data.xy.shape == (5, 2) and data.query_xy is not None
        (real_env / "lib" / "t4.wav").rename(real_env / "away.wav")  # a file goes missing
        with qtbot.waitSignal(s.library.indexing_finished, timeout=120_000):
            s.library.rescan()
        assert [(Path(p).name, reason.split(":")[0]) for p, reason in s.library.refresh()[1]] == [("t4.wav", "missing")]
    finally:
        s.shutdown()
