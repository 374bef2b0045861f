"""Plain value types shared by core, services and ui (the only core module the ui imports).

Kept free of torch/faiss/numpy-heavy imports so the GUI can import it cheaply.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from model.constants import DIMENSIONS  # noqa: F401 - re-exported for the ui (it may not import model)


@dataclass(frozen=True)
class SearchWeights:
    """How much each dimension matters (slider values, any non-negative scale)."""

    genre: float = 1.0
    mood: float = 1.0
    instrument: float = 1.0
    tempo: float = 1.0

    def __post_init__(self) -> None:
        for name in DIMENSIONS:
            value = getattr(self, name)
            if not value >= 0.0 or value == float("inf"):  # also rejects NaN
                raise ValueError(f"weight for {name} must be a finite number >= 0, got {value!r}")

    def as_tuple(self) -> tuple[float, ...]:
        return tuple(float(getattr(self, name)) for name in DIMENSIONS)

    @property
    def is_zero(self) -> bool:
        return not any(self.as_tuple())

    def to_text(self) -> str:
        """``"genre=1,mood=0.5,..."``: what ``parse`` reads back."""
        return ",".join(f"{name}={value:g}" for name, value in zip(DIMENSIONS, self.as_tuple(), strict=True))

    @classmethod
    def parse(cls, text: str) -> SearchWeights:
        """Parse ``"genre=1,mood=0.5"``; dimensions not named keep weight 1."""
        values: dict[str, float] = {}
        for item in filter(None, (part.strip() for part in text.split(","))):
            name, sep, number = item.partition("=")
            name = name.strip().lower()
            if not sep or name not in DIMENSIONS:
                raise ValueError(
                    f"bad weight {item!r}: expected NAME=NUMBER with NAME one of {', '.join(DIMENSIONS)}"
                )
            try:
                values[name] = float(number)
            except ValueError:
                raise ValueError(f"bad weight {item!r}: {number.strip()!r} is not a number") from None
        return cls(**values)


@dataclass(frozen=True)
class Progress:
    """One step of a long job. ``total`` is None while unknown; rate is units per wall second."""

    done: float
    total: float | None = None
    message: str = ""
    unit: str = "files"
    rate: float | None = None
    eta_s: float | None = None

    @property
    def fraction(self) -> float | None:
        if not self.total:
            return None
        return min(1.0, self.done / self.total)


def display_path(path: str) -> str:
    """A path as people read it, on one line: undecodable bytes as ``\\xNN``, control
    characters (a newline in a name) escaped. For showing only; keep ``path`` for the file."""
    text = os.fsencode(path).decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


@dataclass(frozen=True)
class TrackInfo:
    """A catalogued track as the UI shows it."""

    track_id: int
    path: str
    title: str = ""
    artist: str = ""
    album: str = ""
    duration_s: float = 0.0
    bpm: float | None = None
    genre: str = ""
    mood: str = ""
    status: str = "pending"
    error: str = ""
    loudness_lufs: float | None = None  # integrated loudness measured at index time

    @property
    def display_title(self) -> str:
        from pathlib import PurePath

        return self.title or display_path(PurePath(self.path).stem)


@dataclass(frozen=True)
class SearchFilters:
    """Result filters; ``None`` bounds are open."""

    bpm_min: float | None = None
    bpm_max: float | None = None
    duration_min_s: float | None = None
    duration_max_s: float | None = None
    exclude_paths: frozenset[str] = field(default_factory=frozenset)
    exclude_fingerprints: frozenset[str] = field(default_factory=frozenset)  # by content
    exclude_albums: frozenset[str] = field(default_factory=frozenset)
    instrumental: bool = False  # only tracks the auto-tags call instrumental
    tags: str = ""  # tag words to rank by ("calm piano"; see app.core.auto_tags), with or without a clip
    max_per_group: int | None = None  # at most this many results per album or artist (app.core.diversity)


@dataclass(frozen=True)
class SearchResult:
    """One ranked track and where it matches best.

    ``dimensions`` are calibrated similarities (0 = what two unrelated tracks of this library
    get, 1 = identical; see ``app.core.calibration``) and ``score`` is their slider-weighted
    mean, both 0–1. ``raw`` keeps the cosines and ``score_raw`` their weighted sum Σ w·cos.
    """

    track: TrackInfo
    score: float
    offset_s: float
    dimensions: dict[str, float]
    raw: dict[str, float] = field(default_factory=dict)
    score_raw: float = 0.0
    tags: tuple[str, ...] = ()  # auto-tags above their thresholds, most confident first

    def to_json(self) -> dict[str, object]:
        """The CLI/JSON contract: {path, score, offset_s, dimensions, dimensions_raw, score_raw, tags, bpm}."""
        return {
            "path": self.track.path,
            "score": round(float(self.score), 6),
            "offset_s": round(float(self.offset_s), 3),
            "dimensions": {name: round(float(self.dimensions[name]), 6) for name in DIMENSIONS},
            "dimensions_raw": {name: round(float(self.raw.get(name, 0.0)), 6) for name in DIMENSIONS},
            "score_raw": round(float(self.score_raw), 6),
            "tags": list(self.tags),
            "bpm": self.track.bpm,
        }


@dataclass(frozen=True)
class CatalogReport:
    """What an integrity check found (app.core.catalog_check), for ``soundalike check`` and the app."""

    catalog: str  # as the user names it (a URL without its password)
    tracks: int
    problems: tuple[str, ...]  # one sentence each; empty when healthy

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        """One line per problem, or one saying all is well."""
        if self.ok:
            count = f"{self.tracks:,}".replace(",", " ")
            return [f"{self.catalog}: {count} tracks, no problems found"]
        return [f"{self.catalog}: {problem}" for problem in self.problems]


def as_dict(value: object) -> dict[str, object]:
    """Dataclass to dict (for logs and settings)."""
    return asdict(value)  # type: ignore[arg-type]
