"""A track's licence as a short name (``CC-BY-SA-3.0``, ``GPL-2+``) from a Debian copyright file.

Machine-readable copyright files (DEP-5) give a licence per ``Files:`` pattern; game data
packages list the music files one by one, often under a licence other than the code's. So a
track takes the ``License:`` of the last paragraph whose pattern matches the end of its
installed path (DEP-5: the last match wins), which falls back to ``Files: *``. Free-text
copyright files get the licence that their ``/usr/share/common-licenses/`` reference or a
Creative Commons name says, for every track alike.
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
        if any(fnmatchcase(path, pattern) or fnmatchcase(path, f"*/{pattern}")
               for pattern in paragraph["files"].split()):
            name = paragraph["license"]
    return name


def free_text_licence(text: str) -> str:
    """A short name from a free-text copyright file; ``unknown`` when nothing says."""
    if _CC.search(text):
        return "CC-BY-SA"
    common = _COMMON.search(text)
    if common:
        name = common.group(1)
        return f"{name}+" if _LATER.search(text) and not name.endswith("+") else name
    if re.search(r"public domain", text, re.I):
        return "public-domain"
    return UNKNOWN
