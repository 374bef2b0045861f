"""The teacher's tag vocabularies and which similarity block each tag teaches.

The two musicnn taggers predict 50 tags each (orders copied from musicnn's
``configuration.py``: the network's output units). Every tag belongs to exactly one group;
distillation maps groups to embedding blocks with ``BLOCK_GROUPS``: the genre block learns
genre tags, mood learns mood tags, instrument learns instrument and vocal tags. Era (MSD's
decades) and tempo (MTT's slow/fast) teach no block: era is not a slider, and tempo keeps
its own branch, which already beats the teacher there.

Judgement calls, stated so they can be argued with: MSD "acoustic" and "guitar" are
instrumentation; "instrumental" is the vocal-versus-instrumental axis, so vocal; "chillout",
"chill", "easy listening", "party", "sexy", "catchy" describe feel, so mood. MTT "loud",
"quiet", "soft", "weird" are mood (arousal/character); "solo", "beat", "beats" describe
the instrumentation; "choir" is a voice, "choral" and "opera" are styles (genre).
"""

from __future__ import annotations

MSD_TAGS: tuple[str, ...] = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists",
    "classic rock", "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s",
    "chill", "instrumental", "punk", "oldies", "blues", "hard rock", "ambient", "acoustic",
    "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock",
    "60s", "rnb", "indie pop", "sad", "House", "happy",
)

MTT_TAGS: tuple[str, ...] = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast",
    "piano", "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male",
    "singing", "vocals", "no vocals", "harpsichord", "loud", "quiet", "flute", "woman",
    "male vocal", "no vocal", "pop", "soft", "sitar", "solo", "man", "classic", "choir",
    "voice", "new age", "dance", "male voice", "female vocal", "beats", "harp", "cello",
    "no voice", "weird", "country", "metal", "female voice", "choral",
)

MSD_GROUPS: dict[str, tuple[str, ...]] = {
    "genre": (
        "rock", "pop", "alternative", "indie", "electronic", "dance", "alternative rock", "jazz",
        "metal", "classic rock", "soul", "indie rock", "electronica", "folk", "punk", "blues",
        "hard rock", "ambient", "experimental", "Hip-Hop", "country", "funk", "electro",
        "heavy metal", "Progressive rock", "rnb", "indie pop", "House",
    ),
    "mood": (
        "beautiful", "chillout", "Mellow", "chill", "party", "easy listening", "sexy", "catchy",
        "sad", "happy",
    ),
    "instrument": ("acoustic", "guitar"),
    "vocal": ("female vocalists", "male vocalists", "female vocalist", "instrumental"),
    "era": ("00s", "80s", "90s", "oldies", "70s", "60s"),
}

MTT_GROUPS: dict[str, tuple[str, ...]] = {
    "genre": (
        "classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop",
        "classic", "new age", "dance", "country", "metal", "choral",
    ),
    "mood": ("loud", "quiet", "soft", "weird"),
    "instrument": (
        "guitar", "strings", "drums", "piano", "beat", "violin", "synth", "harpsichord", "flute",
        "sitar", "solo", "harp", "cello", "beats",
    ),
    "vocal": (
        "vocal", "female", "male", "singing", "vocals", "no vocals", "woman", "male vocal",
        "no vocal", "man", "choir", "voice", "male voice", "female vocal", "no voice",
        "female voice",
    ),
    "tempo": ("slow", "fast"),
}

# Which tag groups each similarity block distils from (blocks not listed learn no tags).
BLOCK_GROUPS: dict[str, tuple[str, ...]] = {
    "genre": ("genre",),
    "mood": ("mood",),
    "instrument": ("instrument", "vocal"),
}


def group_indices(tags: tuple[str, ...], groups: dict[str, tuple[str, ...]],
                  group_names: tuple[str, ...]) -> list[int]:
    """Output-unit indices (ascending) of the tags in ``group_names``."""
    wanted = {tag for name in group_names for tag in groups[name]}
    return [i for i, tag in enumerate(tags) if tag in wanted]


def block_tag_indices(block: str) -> tuple[list[int], list[int]]:
    """(MSD indices, MTT indices) of the teacher tags that the similarity ``block`` learns."""
    names = BLOCK_GROUPS[block]
    return group_indices(MSD_TAGS, MSD_GROUPS, names), group_indices(MTT_TAGS, MTT_GROUPS, names)
