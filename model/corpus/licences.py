"""A track's licence as a short name (``CC-BY-SA-3.0``, ``GPL-2+``) from a Debian copyright file.

Machine-readable copyright files (DEP-5) give a licence per ``Files:`` pattern; game data
packages list the music files one by one, often under a licence other than the code's. So a
track takes the ``License:`` of the last paragraph whose pattern matches the end of its
installed path (DEP-5: the last match wins; see :func:`_matches`), else that of ``Files: *``. Free-text
copyright files get the licence that their ``/usr/share/common-licenses/`` reference, a
Creative Commons name or the BSD wording says, for every track alike.
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase

UNKNOWN = "unknown"
_CC = re.compile(r"Creative Commons Attribution[- ]Share[- ]?Alike|CC[- ]BY[- ]SA", re.I)
_COMMON = re.compile(r"/usr/share/common-licenses/([A-Za-z0-9.+-]*[A-Za-z0-9+])")
_LATER = re.compile(r"or \(?at your option\)? any later|or later", re.I)


def paragraphs(text: str) -> list[dict[str, str]]:
    """DEP-5 paragraphs as field -> value (first line only, except the lists of ``Files:``)."""
    result = []
    for block in re.split(r"\n\s*\n", text):
        fields: dict[str, str] = {}
        key = ""
        for line in block.splitlines():
            if line[:1].isspace():
                if key == "files":  # a Files: list continues on indented lines
                    fields[key] += " " + line.strip()
                continue
            match = re.match(r"([A-Za-z-]+):\s*(.*)", line)
            if match:
                key = match.group(1).lower()
                fields[key] = match.group(2).strip()
        if fields:
            result.append(fields)
    return result


def licence_for(text: str, path: str) -> str:
    """Short licence name of the installed file ``path`` (``usr/share/...``) per ``text``."""
    files = [p for p in paragraphs(text) if "files" in p and p.get("license")]
    if not files:
        return free_text_licence(text)
    name = UNKNOWN
    for paragraph in files:
        if any(_matches(path, pattern) for pattern in paragraph["files"].split()):
            name = paragraph["license"]
    return name


def _matches(path: str, pattern: str) -> bool:
    """Whether the installed ``path`` matches a ``Files:`` pattern. Patterns name paths in the
    upstream source, and an installed path keeps only their tail (``data/music/x.ogg`` is
    installed as ``usr/share/games/game/music/x.ogg``), so a pattern also matches by its last
    components, down to a folder and a name."""
    parts = pattern.removeprefix("./").split("/")
    tails = ("/".join(parts[i:]) for i in range(max(1, len(parts) - 1)))
    return any(fnmatchcase(path, tail) or fnmatchcase(path, f"*/{tail}") for tail in tails)


def free_text_licence(text: str) -> str:
    """A short name from a free-text copyright file; ``unknown`` when nothing says."""
    if _CC.search(text):
        return "CC-BY-SA"
    common = _COMMON.search(text)
    if common:
        name = common.group(1)
        return f"{name}+" if _LATER.search(text) and not name.endswith("+") else name
    if re.search(r"Redistribution and use in source and binary forms", text, re.I):
        return "BSD"
    if re.search(r"public domain", text, re.I):
        return "public-domain"
    return UNKNOWN
