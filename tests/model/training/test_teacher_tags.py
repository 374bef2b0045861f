"""The teacher's tag lists and the grouping that decides which block learns which tags."""

import pytest

from model.dimensions import DIMENSIONS
from model.training.teacher_tags import (
    BLOCK_GROUPS,
    MSD_GROUPS,
    MSD_TAGS,
    MTT_GROUPS,
    MTT_TAGS,
    block_tag_indices,
)


@pytest.mark.parametrize("tags, groups", [(MSD_TAGS, MSD_GROUPS), (MTT_TAGS, MTT_GROUPS)])
def test_every_tag_is_in_exactly_one_group(tags, groups) -> None:
    grouped = [tag for members in groups.values() for tag in members]
    assert len(tags) == len(set(tags)) == 50
    assert sorted(grouped) == sorted(tags)


def test_msd_grouping_matches_the_published_breakdown() -> None:
    """28 genre, 10 mood, 6 era and 6 instrument/vocal tags (musicnn-teacher notes)."""
    sizes = {name: len(members) for name, members in MSD_GROUPS.items()}
    assert sizes["genre"] == 28 and sizes["mood"] == 10 and sizes["era"] == 6
    assert sizes["instrument"] + sizes["vocal"] == 6


def test_blocks_learn_only_their_own_groups() -> None:
    assert set(BLOCK_GROUPS) <= set(DIMENSIONS) and "tempo" not in BLOCK_GROUPS
    msd_genre, mtt_genre = block_tag_indices("genre")
    assert [MSD_TAGS[i] for i in msd_genre][:3] == ["rock", "pop", "alternative"]
    assert "jazz" in [MSD_TAGS[i] for i in msd_genre] and "classical" in [MTT_TAGS[i] for i in mtt_genre]
    msd_mood, mtt_mood = block_tag_indices("mood")
    assert {"sad", "happy", "Mellow"} <= {MSD_TAGS[i] for i in msd_mood}
    msd_inst, mtt_inst = block_tag_indices("instrument")
    assert {"instrumental", "female vocalists"} <= {MSD_TAGS[i] for i in msd_inst}
    assert {"piano", "drums", "no vocals", "female voice"} <= {MTT_TAGS[i] for i in mtt_inst}
    blocks = [set(block_tag_indices(b)[0]) for b in BLOCK_GROUPS]
    assert all(not (a & b) for i, a in enumerate(blocks) for b in blocks[i + 1:])


def test_era_and_tempo_tags_teach_no_block() -> None:
    taught_msd = {i for b in BLOCK_GROUPS for i in block_tag_indices(b)[0]}
    taught_mtt = {i for b in BLOCK_GROUPS for i in block_tag_indices(b)[1]}
    assert MSD_TAGS.index("80s") not in taught_msd
    assert MTT_TAGS.index("fast") not in taught_mtt and MTT_TAGS.index("slow") not in taught_mtt
