"""A result's score and the order of results, from calibrated cosines (search.py, steps 3-4).

The score is the slider-weighted mean of the calibrated dimensions, averaged with the tag
match when there are tag words; ties go to the unclipped sum, then to the row. Plain numpy
with no engine state: the engine ranks with it twice per search (before and after the
phase alignment) and reports the same score, so the rule is written once, here.
"""

from __future__ import annotations

import numpy as np

from app.core.calibration import calibrate


def slider_scores(calibrated: np.ndarray, w: np.ndarray, rows: np.ndarray, match: np.ndarray | None) -> np.ndarray:
    """Slider-weighted mean of calibrated dimensions, averaged with the tag match when given."""
    score = calibrated @ (w / w.sum())
    return score if match is None else (score + match[rows]) / 2.0


def result_order(
    raw: np.ndarray, centers: np.ndarray, w: np.ndarray, rows: np.ndarray, match: np.ndarray | None
) -> np.ndarray:
    """Order of ``raw`` (n, 4) cosines: score desc, then the unclipped sum, then row."""
    unclipped = calibrate(raw, centers, clip=False)
    score = slider_scores(np.clip(unclipped, 0.0, 1.0), w, rows, match)
    return np.lexsort((rows, -(unclipped @ w), -score))
