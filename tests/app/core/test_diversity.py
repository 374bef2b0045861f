"""At most N results per album or artist (tags), else per folder."""

from __future__ import annotations

from app.core.diversity import diversify, group_keys
from app.core.types import SearchResult, TrackInfo


def _result(i: int, path: str, album: str = "", artist: str = "") -> SearchResult:
    return SearchResult(TrackInfo(i, path, album=album, artist=artist), 1.0 - i / 100, 0.0, {})


def test_at_most_n_per_album_or_artist_in_ranking_order() -> None:
    ranked = [
        _result(0, "/a/1.wav", "Blue", "Ann"), _result(1, "/a/2.wav", "blue ", "Ann"),
        _result(2, "/a/3.wav", "Blue", "Ann"), _result(3, "/b/1.wav", "Red", "Ann"),
        _result(4, "/c/1.wav", "Green", "Bob"), _result(5, "/c/2.wav", "Green", "Bob"),
        _result(6, "/c/3.wav", "Gold", "Bob"),
    ]
    kept = diversify(ranked, 2, 10)
    # Album "Blue" (case and spaces ignored) stops at 2, and so does artist Ann; Bob too.
    assert [r.track.track_id for r in kept] == [0, 1, 4, 5]
    assert [r.track.track_id for r in diversify(ranked, 1, 10)] == [0, 4]
    assert len(diversify(ranked, 5, 3)) == 3


def test_untagged_tracks_group_by_folder() -> None:
    assert group_keys(TrackInfo(1, "/music/album/x.wav")) == ("folder:/music/album",)
    ranked = [_result(i, f"/music/{'ab'[i % 2]}/{i}.wav") for i in range(6)]
    assert [r.track.track_id for r in diversify(ranked, 2, 10)] == [0, 1, 2, 3]
