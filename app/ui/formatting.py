"""Small text formatters shared by the widgets."""

from __future__ import annotations


def fmt_time(seconds: float | None) -> str:
    if seconds is None or seconds != seconds or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"
    return f"{seconds // 60}:{seconds % 60:02d}"


def fmt_eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"{int(seconds)} s left"
    if seconds < 3600:
        return f"{int(round(seconds / 60))} min left"
    return f"{seconds / 3600:.1f} h left"
