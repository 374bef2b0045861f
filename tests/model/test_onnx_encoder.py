"""The ONNX encoder: same embeddings as torch, used only for the model it was made from."""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pytest
import torch

from model.checkpoint import new_untrained_model, save_model, untrained_card
from model.encoder import Encoder
from model.export_onnx import MIN_AGREEMENT, dft_autocorrelation, export, twin_agreement
from model.model_id import model_id_of
from model.network import TempoBranch
from model.onnx_encoder import load_onnx_encoder, onnx_path, source_model_id
from model.tags import TagModel
from tests.model_files import SMALL, make_model
from tests.synth_audio import music_like

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):  # noqa: ANN201
    """A small random-init model with a tag head, and its ONNX export beside it."""
    path = tmp_path_factory.mktemp("onnx") / "m.pt"
    rng = np.random.default_rng(0)
    head = {
        "names": ["rock", "calm", "piano"], "groups": ["genre", "mood", "instrument"],
        "thresholds": [0.5, float("inf"), 0.3],
        "w1": torch.from_numpy(rng.normal(size=(8, 256)).astype(np.float32)), "b1": torch.zeros(8),
        "w2": torch.from_numpy(rng.normal(size=(3, 8)).astype(np.float32)), "b2": torch.zeros(3),
    }  # fmt: skip
    torch.manual_seed(0)
    save_model(path, new_untrained_model(0, SMALL), SMALL, untrained_card(0), extra={"tag_head": head})
    export(path)
    return path


def test_embeddings_match_torch(exported) -> None:
    audio = music_like(20.0, seed=3, sr=22050)
    torch_vectors = Encoder.load(exported, device="cpu", precision="fp32").embed_samples(audio)
    onnx_encoder = load_onnx_encoder(exported)
    assert onnx_encoder is not None and onnx_encoder.model_id == model_id_of(exported)
    onnx_vectors = onnx_encoder.embed_samples(audio)
    assert onnx_vectors.windows.shape == torch_vectors.windows.shape == (6, 256)
    blocks = (onnx_vectors.windows * torch_vectors.windows).reshape(-1, 4, 64).sum(-1)
    assert blocks.min() >= 0.999  # every window, every dimension
    assert onnx_vectors.padded is torch_vectors.padded is False
    assert twin_agreement(exported) >= MIN_AGREEMENT  # the check the trainer runs after its export


def test_a_failed_export_keeps_the_trained_model_and_says_so(tmp_path, monkeypatch, caplog) -> None:
    """The trainer's save (model.train.save_state_as_model): the model file stays, without a
    twin (searches load torch), and the card carries a one-line note for the trainer to show."""
    from dataclasses import asdict

    import model.export_onnx
    from model.checkpoint import load_model
    from model.train import save_state_as_model

    def fail(path):  # noqa: ANN001, ANN202
        onnx_path(path).write_bytes(b"half an export")  # whatever it left must not be used
        raise RuntimeError("exporter exploded\nsecond line")

    monkeypatch.setattr(model.export_onnx, "export", fail)
    state = {"dims": asdict(SMALL), "state_dict": new_untrained_model(0, SMALL).state_dict()}
    out, card = tmp_path / "tuned.pt", {"epochs": 1}
    save_state_as_model(state, out, card)
    _, info = load_model(out)
    assert info.card["epochs"] == 1 and load_onnx_encoder(out) is None
    (note,) = card["notes"]
    assert "tuned.pt" in note and "exporter exploded" in note and "\n" not in note
    assert "exporter exploded" in caplog.text

    monkeypatch.setattr(model.export_onnx, "twin_agreement", lambda path: 0.5)  # exported, but wrong
    monkeypatch.setattr(model.export_onnx, "export", export)
    card = {}
    save_state_as_model(state, out, card)
    assert not onnx_path(out).exists() and "0.5000" in card["notes"][0]

    def check_fails(path):  # noqa: ANN001, ANN202 - exported, then the check itself fails
        raise RuntimeError("torch encoder would not load")

    monkeypatch.setattr(model.export_onnx, "twin_agreement", check_fails)
    card = {}
    save_state_as_model(state, out, card)
    assert not onnx_path(out).exists() and "would not load" in card["notes"][0]  # an unchecked twin is not used


def test_a_session_that_does_not_spin_embeds_the_same(exported) -> None:
    """``spin=False`` (a CLI search) only lets the runtime's threads sleep between runs."""
    audio = music_like(8.0, seed=4, sr=22050)
    spinning, sleeping = load_onnx_encoder(exported), load_onnx_encoder(exported, spin=False)
    options = sleeping.network.session.get_session_options()
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    with pytest.raises(Exception, match="allow_spinning"):  # not set: onnxruntime's default (spin)
        spinning.network.session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning")
    np.testing.assert_array_equal(sleeping.embed_samples(audio).windows, spinning.embed_samples(audio).windows)


def test_tag_head_travels_in_the_metadata(exported) -> None:
    from model.checkpoint import load_model

    _, info = load_model(exported)
    tags = load_onnx_encoder(exported).info.tags
    assert isinstance(tags, TagModel) and tags.names == info.tags.names and tags.groups == info.tags.groups
    np.testing.assert_array_equal(tags.thresholds, info.tags.thresholds)  # inf included
    np.testing.assert_array_equal(tags.w1, info.tags.w1)


def test_missing_or_foreign_onnx_means_torch(exported, tmp_path, monkeypatch) -> None:
    other = make_model(tmp_path / "other.pt", seed=1)
    assert load_onnx_encoder(other) is None  # no .onnx beside it
    shutil.copy(onnx_path(exported), onnx_path(other))  # an export of another model
    assert source_model_id(onnx_path(other)) != model_id_of(other)
    assert load_onnx_encoder(other) is None
    onnx_path(other).write_bytes(b"not onnx")
    assert load_onnx_encoder(other) is None
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # not installed
    assert load_onnx_encoder(exported) is None


def test_embed_files_decodes_in_processes_and_skips_bad_files(exported, tmp_path) -> None:
    from model.audio import AudioError, load_audio
    from model.embedding import TrackEmbedding
    from tests.synth_audio import write_audio

    encoder = load_onnx_encoder(exported, threads=1)
    good = [write_audio(tmp_path / f"{i}.ogg", music_like(4.0 + 20 * i, seed=i)) for i in range(3)]
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"garbage" * 100)
    paths = [str(good[0]), str(bad), str(good[1]), str(good[2])]
    results = dict(encoder.embed_files(paths, decode_workers=2))
    assert set(results) == set(paths)
    assert isinstance(results[str(bad)], AudioError) and "bad.mp3" in str(results[str(bad)])
    for path in good:
        expected = encoder.embed_samples(load_audio(path))
        got = results[str(path)]
        assert isinstance(got, TrackEmbedding) and got.padded is expected.padded
        np.testing.assert_allclose(got.windows, expected.windows, atol=1e-5)  # 44-s file: 2 pieces
        np.testing.assert_allclose(got.track, expected.track, atol=1e-5)
    (single,) = encoder.embed_files([str(good[0])])  # one file: no processes started
    np.testing.assert_allclose(single[1].track, results[str(good[0])].track, atol=1e-5)


def test_exported_autocorrelation_is_the_fft_one() -> None:
    """The tempo branch's autocorrelation as DFT matrix products (ONNX has no FFT) equals
    torch's FFT form at every lag, to float32 rounding of the lag-0 value."""
    flux = torch.randn(3, 4, 128, generator=torch.Generator().manual_seed(0))
    flux = flux - flux.mean(dim=-1, keepdim=True)
    expected = TempoBranch.autocorrelation(flux, 98)
    got = dft_autocorrelation(128)(flux, 98)
    assert got.shape == expected.shape
    assert float((got - expected).abs().max()) <= 1e-5 * float(expected[..., 0].abs().min())
