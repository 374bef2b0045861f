"""Model files round-trip, load without pickles, and refuse wrong or corrupt files clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model.checkpoint import (
    FORMAT,
    ModelFileError,
    frontend_config,
    load_model,
    new_untrained_model,
    save_model,
    untrained_card,
)
from model.dimensions import DIMENSIONS
from model.model_id import file_sha256
from model.network import ModelDims

SMALL = ModelDims(stem_channels=16, widths=(16, 16, 24, 24, 32, 32))


def _saved(tmp_path: Path, seed: int = 0) -> Path:
    path = tmp_path / "m.pt"
    save_model(path, new_untrained_model(seed, SMALL), SMALL, untrained_card(seed))
    return path


def test_round_trip_keeps_weights_dims_card_and_id(tmp_path: Path) -> None:
    original = new_untrained_model(3, SMALL)
    path = tmp_path / "m.pt"
    model_id = save_model(path, original, SMALL, {"name": "x", "epochs": 2})
    network, info = load_model(path)
    assert info.dims == SMALL and info.card == {"name": "x", "epochs": 2}
    assert info.model_id == model_id == file_sha256(path)[:16] and len(model_id) == 16
    assert info.dimensions == DIMENSIONS and not network.training
    x = torch.randn(2, 1, 128, 129)
    with torch.no_grad():
        torch.testing.assert_close(network(x), original(x))


def test_file_is_plain_data_for_weights_only_loading(tmp_path: Path) -> None:
    payload = torch.load(_saved(tmp_path), weights_only=True)
    assert payload["format"] == FORMAT and payload["frontend"] == frontend_config()
    assert tuple(payload["dims"]["widths"]) == SMALL.widths


def test_same_seed_same_model_id_different_seed_different(tmp_path: Path) -> None:
    ids = []
    for seed in (0, 0, 1):
        path = tmp_path / f"{len(ids)}.pt"
        ids.append(save_model(path, new_untrained_model(seed, SMALL), SMALL, {}))
    assert ids[0] == ids[1] != ids[2]


class _Evil:
    def __reduce__(self):
        return (print, ("pwned",))


@pytest.mark.parametrize(
    "kind, expected",
    [
        ("missing", "no such model file"),
        ("garbage", "not a readable soundalike model file"),
        ("truncated", "not a readable soundalike model file"),
        ("pickle", "not a readable soundalike model file"),
        ("foreign", "not a soundalike model file"),
        ("frontend", "different audio front end"),
        ("newer", "newer than this soundalike supports"),
        ("weights", "weights do not match"),
    ],
)
def test_wrong_or_corrupt_files_give_one_line_errors(tmp_path: Path, kind: str, expected: str) -> None:
    good = _saved(tmp_path)
    path = tmp_path / f"{kind}.pt"
    payload = torch.load(good, weights_only=True)
    if kind == "garbage":
        path.write_bytes(b"\x00not a model" * 100)
    elif kind == "truncated":
        path.write_bytes(good.read_bytes()[:2000])
    elif kind == "pickle":
        torch.save({"format": FORMAT, "evil": _Evil()}, path)
    elif kind == "foreign":
        torch.save({"state_dict": payload["state_dict"]}, path)
    elif kind == "frontend":
        torch.save({**payload, "frontend": {**payload["frontend"], "hop": 256}}, path)
    elif kind == "newer":
        torch.save({**payload, "version": 99}, path)
    elif kind == "weights":
        torch.save({**payload, "dims": {**payload["dims"], "stem_channels": 32}}, path)
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    assert expected in str(info.value) and "\n" not in str(info.value)
