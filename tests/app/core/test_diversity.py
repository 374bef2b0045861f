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
    # Album "Blue" (case and spaces ignored) stops at 2, and so does artist Ann; Bob too.
    assert [r.track.track_id for r in diversify(ranked, 2, 4)] == [0, 1, 4, 5]
    assert [r.track.track_id for r in diversify(ranked, 1, 2)] == [0, 4]
    assert len(diversify(ranked, 5, 3)) == 3


def test_held_back_results_fill_the_list_when_groups_run_out() -> None:
    """A one-album library still shows k results: the held-back ones follow in rank order."""
    ranked = [_result(i, f"/a/{i}.wav", "Demo", "Gen") for i in range(6)]
    assert [r.track.track_id for r in diversify(ranked, 2, 5)] == [0, 1, 2, 3, 4]
    mixed = [_result(0, "/a/0.wav", "A"), _result(1, "/a/1.wav", "A"), _result(2, "/b/2.wav", "B")]
    assert [r.track.track_id for r in diversify(mixed, 1, 3)] == [0, 2, 1]


def test_untagged_tracks_group_by_folder() -> None:
    assert group_keys(TrackInfo(1, "/music/album/x.wav")) == ("folder:/music/album",)
    ranked = [_result(i, f"/music/{'ab'[i % 2]}/{i}.wav") for i in range(6)]
    assert [r.track.track_id for r in diversify(ranked, 2, 4)] == [0, 1, 2, 3]
    assert [r.track.track_id for r in diversify(ranked[::2] + ranked[1::2], 2, 4)] == [0, 2, 1, 3]
