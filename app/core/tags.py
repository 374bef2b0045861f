"""Read the tags a search filter or the results table needs, with mutagen.

Public API::

    read_tags(path) -> dict   # keys: title, artist, album, genre, mood, bpm (float or None)

Never raises: a file whose tags cannot be read simply has none (the audio may still be
fine; decoding decides whether the file is usable). Several values in one tag are joined
with ``"; "`` (the labels-CSV convention). BPM text such as ``"120"``, ``"120.5"`` or
``"120 BPM"`` is parsed; anything outside 20-400 BPM is treated as unknown.
"""

from __future__ import annotations

import os
import re

_TEXT_KEYS = ("title", "artist", "album", "genre", "mood")
# Easy-tag names first, then raw frame names for formats without an "easy" mapping.
_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title", "TIT2", "\xa9nam", "INAM"),
    "artist": ("artist", "TPE1", "\xa9ART", "IART"),
    "album": ("album", "TALB", "\xa9alb", "IPRD"),
    "genre": ("genre", "TCON", "\xa9gen", "IGNR"),
    "mood": ("mood", "TMOO", "----:com.apple.iTunes:MOOD"),
    "bpm": ("bpm", "TBPM", "tmpo", "----:com.apple.iTunes:BPM"),
}
_NUMBER = re.compile(r"[-+]?\d+(?:[.,]\d+)?")


def _values(tags: object, key: str) -> list[str]:
    try:
        value = tags[key]  # type: ignore[index]
    except (KeyError, ValueError, TypeError, IndexError):
        return []
    items = value if isinstance(value, list | tuple) else [value]
    out = []
    for item in items:
        text = getattr(item, "text", item)  # ID3 frames carry .text lists
        if isinstance(text, list | tuple):
            out.extend(str(t) for t in text)
        elif isinstance(text, bytes):
            out.append(text.decode("utf-8", "replace"))
        else:
            out.append(str(text))
    return [v.strip().strip("\x00") for v in out if str(v).strip().strip("\x00")]


def _first(tags: object, name: str) -> list[str]:
    for key in _ALIASES[name]:
        found = _values(tags, key)
        if found:
            return found
    return []


def parse_bpm(text: str) -> float | None:
    match = _NUMBER.search(text or "")
    if not match:
        return None
    value = float(match.group(0).replace(",", "."))
    return value if 20.0 <= value <= 400.0 else None


def read_tags(path: str | os.PathLike[str]) -> dict[str, object]:
    result: dict[str, object] = {key: "" for key in _TEXT_KEYS}
    result["bpm"] = None
    try:
        import mutagen

        audio = mutagen.File(os.fspath(path), easy=True)
        if audio is None or audio.tags is None:
            return result
        tags = audio.tags
        for name in _TEXT_KEYS:
            result[name] = "; ".join(dict.fromkeys(_first(tags, name)))
        bpm_values = _first(tags, "bpm")
        result["bpm"] = parse_bpm(bpm_values[0]) if bpm_values else None
    except Exception:  # noqa: BLE001 - mutagen raises many types on odd files; tags are optional
        return {key: "" for key in _TEXT_KEYS} | {"bpm": None}
    return result
