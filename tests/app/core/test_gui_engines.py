"""Qt-free engines behind the GUI: waveform peaks/region, map projection, model registry, export."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from app.core import export, model_registry, projection, waveform
from app.core.player import DecodeCache
from app.core.types import SearchResult, TrackInfo

SR = 22050


def test_peaks_bound_the_signal() -> None:
    x = np.sin(np.linspace(0, 200 * np.pi, SR * 3)).astype(np.float32) * 0.5
    lo, hi = waveform.peaks(x, 300)
    assert lo.shape == hi.shape == (300,)
    assert np.all(lo <= hi) and hi.max() == pytest.approx(0.5, abs=1e-3) and lo.min() == pytest.approx(-0.5, abs=1e-3)
    lo, hi = waveform.peaks(np.zeros(10, np.float32), 300)  # more bins than samples
    assert lo.shape == (300,) and not hi.any()


def test_best_region_finds_the_busy_part_and_keeps_short_clips_whole() -> None:
    rng = np.random.default_rng(0)
    x = 0.01 * rng.normal(size=SR * 120).astype(np.float32)
    x[SR * 70 : SR * 95] += 0.5 * rng.normal(size=SR * 25).astype(np.float32)
    start, end = waveform.best_region(x)
    assert waveform.MIN_REGION_S <= end - start <= waveform.MAX_REGION_S
    assert 70 - 1 <= start and end <= 95 + 1  # inside the loud stretch
    assert waveform.best_region(x[: SR * 20]) == (0.0, pytest.approx(20.0))


def clusters_of(n: int, k: int, dims: int = 256, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dims))
    labels = np.repeat(np.arange(k), n // k)
    return centres[labels] + 0.2 * rng.normal(size=(len(labels), dims)), labels


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_projection_keeps_clusters_apart(method: str) -> None:
    x, truth = clusters_of(120, 3)
    proj = projection.project(x, method=method, clusters=3)
    assert proj.xy.shape == (120, 2) and np.abs(proj.xy).max() <= 1.0 + 1e-6
    assert proj.method == method
    # each true cluster maps to one k-means colour
    for c in range(3):
        assert len(set(proj.clusters[truth == c])) == 1
    # and its points sit nearer each other than to the other clusters in 2-D
    centre = np.array([proj.xy[truth == c].mean(axis=0) for c in range(3)])
    spread = max(np.linalg.norm(proj.xy[truth == c] - centre[c], axis=1).mean() for c in range(3))
    gaps = [np.linalg.norm(centre[a] - centre[b]) for a in range(3) for b in range(a + 1, 3)]
    assert min(gaps) > 2 * spread


def test_projection_per_dimension_uses_only_that_block() -> None:
    x, _ = clusters_of(40, 2)
    y = x.copy()
    y[:, 64:] = np.random.default_rng(5).normal(size=(40, 192))  # change every other block
    a = projection.project(x, "genre", method="pca")
    b = projection.project(y, "genre", method="pca")
    assert np.allclose(np.abs(a.xy), np.abs(b.xy), atol=1e-5)  # PCA sign may flip
    assert projection.project(np.zeros((0, 256)), method="auto").xy.shape == (0, 2)


def test_model_registry_lists_shipped_then_user_models_and_never_targets_resources(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOUNDALIKE_MODEL", raising=False)
    shipped, user = tmp_path / "shipped", tmp_path / "user"
    shipped.mkdir()
    (shipped / "default.pt").write_bytes(b"x")
    user.mkdir()
    (user / "mine.pt").write_bytes(b"y")
    model_registry.write_card(user / "mine.pt", {"epochs": 3})
    entries = model_registry.list_models(user, shipped)
    assert [(e.name, e.shipped) for e in entries] == [("default", True), ("mine", False)]
    assert entries[1].card == {"epochs": 3}
    assert json.loads((user / "mine.card.json").read_text()) == {"epochs": 3}
    path = model_registry.new_user_model_path("mine", user)
    assert path == user / "mine-2.pt" and path.parent == user


def test_no_model_resolves_to_none(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("SOUNDALIKE_MODEL", raising=False)
    monkeypatch.setattr(model_registry, "SHIPPED_MODELS_DIR", tmp_path / "none")
    monkeypatch.setattr(model_registry, "DEFAULT_MODEL", tmp_path / "none" / "default.pt")
    assert model_registry.resolve_model(user_dir=tmp_path / "empty") is None


def test_export_csv_and_m3u(tmp_path: Path) -> None:
    results = [
        SearchResult(TrackInfo(1, "/m/a b.flac", "A", "Art", duration_s=61.4, bpm=120.0), 0.9, 12.5,
                     {"genre": 0.9, "mood": 0.8, "instrument": 0.7, "tempo": 0.6}),
        SearchResult(TrackInfo(2, "/m/c.mp3"), 0.5, 0.0, {"genre": 0.1, "mood": 0.2, "instrument": 0.3, "tempo": 0.4}),
    ]
    csv_text = (export.write(results, tmp_path / "r.csv")).read_text()
    assert csv_text.splitlines()[1] == "1,/m/a b.flac,A,Art,61.4,120,0.9000,12.50,0.9000,0.8000,0.7000,0.6000"
    m3u = export.write(results, tmp_path / "r.m3u").read_text().splitlines()
    assert m3u == ["#EXTM3U", "#EXTINF:61,Art - A", "/m/a b.flac", "#EXTINF:0,c", "/m/c.mp3"]
    latin1 = os.fsdecode(b"/m/caf\xe9.wav")  # a name that is not UTF-8 goes out as its own bytes
    only = [SearchResult(TrackInfo(3, latin1), 0.5, 0.0, dict.fromkeys(("genre", "mood", "instrument", "tempo"), 0.1))]
    assert b"/m/caf\xe9.wav\n" in export.write(only, tmp_path / "l.m3u").read_bytes()


def test_decode_cache_evicts_least_recently_used() -> None:
    calls: list[str] = []

    def loader(path: str) -> np.ndarray:
        calls.append(path)
        return np.zeros(1000, np.float32)  # 4000 bytes

    cache = DecodeCache(loader, max_bytes=9000)
    for p in ("a", "b", "a", "c"):
        cache.load(p)
    assert calls == ["a", "b", "c"]
    assert "a" in cache and "c" in cache and "b" not in cache
