"""Level-matched audition: the query and every result play at the same integrated loudness."""

from __future__ import annotations

import numpy as np
import pytest

from app.core.player import MAX_GAIN_DB, TARGET_LUFS, DecodeCache, Player
from model.loudness import integrated_loudness
from tests.synth_audio import music_like

SR = 22050


class _HeadlessPlayer(Player):
    """The real Player; its PortAudio stream replaced by pulling the callback by hand."""

    def __init__(self, sources: dict[str, np.ndarray]) -> None:
        super().__init__(DecodeCache(lambda path: sources[path]))
        self.available, self.reason = True, ""

    def _ensure_stream(self) -> bool:
        return True

    def render(self, seconds: float) -> np.ndarray:
        out = np.zeros((int(seconds * SR), 1), np.float32)
        for start in range(0, len(out), 1024):
            self._callback(out[start : start + 1024], len(out[start : start + 1024]), None, None)
        return out[:, 0]


@pytest.fixture()
def sources() -> dict[str, np.ndarray]:
    song = music_like(12.0, seed=5, bpm=96.0)
    other = music_like(12.0, seed=6, bpm=120.0)
    return {"/q/query.wav": 0.8 * song, "/m/quiet.wav": 0.15 * other, "/m/loud.wav": 0.9 * other}


def test_query_and_results_play_within_1_lu(sources) -> None:
    player = _HeadlessPlayer(sources)
    levels = {}
    for path in sources:
        player.play(path)
        levels[path] = integrated_loudness(player.render(10.0))
    assert max(levels.values()) - min(levels.values()) < 1.0
    assert all(abs(v - TARGET_LUFS) < 1.0 for v in levels.values())
    # Without matching they differ by the 15.6 dB the files differ by.
    assert integrated_loudness(sources["/m/loud.wav"]) - integrated_loudness(sources["/m/quiet.wav"]) > 15


def test_near_silence_is_raised_by_at_most_max_gain() -> None:
    player = _HeadlessPlayer({"/m/hiss.wav": 0.01 * music_like(8.0, seed=1)})
    player.play("/m/hiss.wav")
    assert player.gain == pytest.approx(10 ** (MAX_GAIN_DB / 20))


def test_level_matching_can_be_turned_off(sources) -> None:
    player = _HeadlessPlayer(sources)
    player.level_match = False
    player.play("/m/quiet.wav")
    assert player.gain == 1.0
    assert np.allclose(player.render(1.0), sources["/m/quiet.wav"][:SR])
