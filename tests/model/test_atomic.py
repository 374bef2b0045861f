"""Atomic writes: a failed write leaves the old file and no temporary file behind."""

from __future__ import annotations

import numpy as np
import pytest

from model.atomic import atomic_path, write_text_atomic


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path) -> None:
    target = tmp_path / "card.json"
    write_text_atomic(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("disk full")
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["card.json"]


def test_temp_keeps_the_suffix_so_savez_writes_the_target(tmp_path) -> None:
    target = tmp_path / "out.npz"
    with atomic_path(target) as tmp:
        np.savez(tmp, x=np.arange(3))
    assert np.load(target)["x"].tolist() == [0, 1, 2] and sorted(p.name for p in tmp_path.iterdir()) == ["out.npz"]
