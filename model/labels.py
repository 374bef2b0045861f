"""Training labels per track: from a CSV sidecar, from folder names, or from tag values.

The CSV format is the one the corpus generator writes and ``soundalike train --csv`` reads::

    path,genre,mood,instrument,bpm[,split,soundfont,seed,...]

``path`` is relative to the CSV's folder, several tags in one cell are separated by ``;``
and an empty cell means "unknown" (such a track takes no part in that dimension's
triplets, but still in track triplets). Extra columns are kept in ``TrackLabels.extra``;
``split`` (train/val/test) is honoured when present.

File tags are read on the app side (mutagen is not a ``model`` dependency); the app hands
the raw tag strings to :func:`labels_from_tags`.
"""

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from model.dimensions import DIMENSIONS

TAG_DIMENSIONS: tuple[str, ...] = ("genre", "mood", "instrument")  # tempo is a number
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3", ".opus", ".aif", ".aiff"})
SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class TrackLabels:
    """What is known about one track. Empty tag sets and ``bpm=None`` mean unknown."""

    path: Path
    genre: frozenset[str] = frozenset()
    mood: frozenset[str] = frozenset()
    instrument: frozenset[str] = frozenset()
    bpm: float | None = None
    extra: Mapping[str, str] = field(default_factory=dict)

    def tags(self, dimension: str) -> frozenset[str]:
        """Tags of a tag dimension (genre, mood, instrument)."""
        if dimension not in TAG_DIMENSIONS:
            raise ValueError(f"{dimension!r} has no tags (tempo is compared by BPM)")
        return getattr(self, dimension)

    def knows(self, dimension: str) -> bool:
        """Whether this track can take part in triplets of ``dimension``."""
        if dimension == "tempo":
            return self.bpm is not None
        return bool(self.tags(dimension))

    @property
    def split(self) -> str:
        return self.extra.get("split", "")

    @property
    def has_labels(self) -> bool:
        return any(self.knows(d) for d in DIMENSIONS)


def parse_tags(cell: str | None) -> frozenset[str]:
    """``"Rock; Pop/Indie"`` -> ``{"rock", "pop", "indie"}`` (lower-case, trimmed).

    ``;`` is the CSV separator; ``/`` and ``,`` are accepted too because file tags use them.
    """
    if not cell:
        return frozenset()
    parts = (part.strip().lower() for part in re.split(r"[;/,]", cell))
    return frozenset(part for part in parts if part)


def parse_bpm(cell: str | float | None) -> float | None:
    """A positive tempo in BPM, or None for empty/unparsable/non-positive values."""
    if cell is None or cell == "":
        return None
    try:
        value = float(cell)
    except (TypeError, ValueError):
        return None
    return value if 0.0 < value < 1000.0 else None


def read_labels_csv(csv_path: str | Path) -> list[TrackLabels]:
    """Read a labels CSV; paths become absolute (relative to the CSV's folder)."""
    csv_path = Path(csv_path)
    root = csv_path.resolve().parent
    with csv_path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or "path" not in reader.fieldnames:
            raise ValueError(f"{csv_path}: a labels CSV needs a header with a 'path' column")
        known = {"path", "bpm", *TAG_DIMENSIONS}
        labels = []
        for row in reader:
            if not row.get("path"):
                continue
            extra = {k: (v or "") for k, v in row.items() if k and k not in known}
            labels.append(
                TrackLabels(
                    path=(root / row["path"]).resolve(),
                    genre=parse_tags(row.get("genre")),
                    mood=parse_tags(row.get("mood")),
                    instrument=parse_tags(row.get("instrument")),
                    bpm=parse_bpm(row.get("bpm")),
                    extra=extra,
                )
            )
    return labels


def write_labels_csv(csv_path: str | Path, labels: Iterable[TrackLabels]) -> None:
    """Write labels in the agreed format (paths relative to the CSV's folder when possible)."""
    csv_path = Path(csv_path)
    root = csv_path.resolve().parent
    labels = list(labels)
    extra_keys = sorted({k for item in labels for k in item.extra})
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", *TAG_DIMENSIONS, "bpm", *extra_keys])
        for item in labels:
            try:
                rel = Path(item.path).resolve().relative_to(root).as_posix()
            except ValueError:
                rel = str(item.path)
            tags = [";".join(sorted(item.tags(d))) for d in TAG_DIMENSIONS]
            bpm = "" if item.bpm is None else f"{item.bpm:g}"
            writer.writerow([rel, *tags, bpm, *(item.extra.get(k, "") for k in extra_keys)])


def find_audio_files(root: str | Path) -> list[Path]:
    """Audio files under ``root`` (recursive, sorted, hidden folders skipped)."""
    root = Path(root)
    found = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in AUDIO_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    ]
    return sorted(found)


def labels_from_folders(root: str | Path, files: Sequence[Path] | None = None) -> list[TrackLabels]:
    """Labels from folder names below ``root``.

    A folder named ``dimension=value`` (e.g. ``mood=calm``, ``bpm=120``) sets that
    dimension; any other folder name is taken as a genre (``Jazz/Slow/x.mp3`` -> genre
    jazz and slow would be wrong, so only the first plain folder counts as the genre).
    Files directly in ``root`` get no labels (they still serve track triplets).
    """
    root = Path(root).resolve()
    files = find_audio_files(root) if files is None else [Path(f).resolve() for f in files]
    labels = []
    for path in files:
        values: dict[str, str] = {}
        for part in path.relative_to(root).parts[:-1]:
            key, sep, value = part.partition("=")
            key = key.strip().lower()
            if sep and key in (*TAG_DIMENSIONS, "bpm", "tempo"):
                values["bpm" if key == "tempo" else key] = value
            elif not sep and "genre" not in values:
                values["genre"] = part
        labels.append(
            TrackLabels(
                path=path,
                genre=parse_tags(values.get("genre")),
                mood=parse_tags(values.get("mood")),
                instrument=parse_tags(values.get("instrument")),
                bpm=parse_bpm(values.get("bpm")),
            )
        )
    return labels


def labels_from_tags(
    path: str | Path,
    genre: str | None = None,
    mood: str | None = None,
    instrument: str | None = None,
    bpm: str | float | None = None,
) -> TrackLabels:
    """Labels from raw file-tag strings (the app reads the tags; see module docstring)."""
    return TrackLabels(
        path=Path(path).resolve(),
        genre=parse_tags(genre),
        mood=parse_tags(mood),
        instrument=parse_tags(instrument),
        bpm=parse_bpm(bpm),
    )


def assign_splits(
    labels: Sequence[TrackLabels], val_fraction: float = 0.1, test_fraction: float = 0.0
) -> list[TrackLabels]:
    """Give every track without a ``split`` one, stably: a hash of its file name decides.

    Hashing the name (not a random draw) keeps a track in the same split when files are
    added or removed, so a held-out track never leaks into training on a later run.
    """
    out = []
    for item in labels:
        if item.split in SPLITS:
            out.append(item)
            continue
        digest = hashlib.sha1(Path(item.path).name.encode("utf-8")).digest()
        u = int.from_bytes(digest[:8], "big") / 2**64
        split = "test" if u < test_fraction else "val" if u < test_fraction + val_fraction else "train"
        out.append(replace(item, extra={**item.extra, "split": split}))
    return out


def select_split(labels: Iterable[TrackLabels], *splits: str) -> list[TrackLabels]:
    return [item for item in labels if item.split in splits]
