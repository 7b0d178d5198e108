"""Verdicts on a gain interval: does the arm beat the baseline, lose to it, or can we not tell."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np

from transferlab.analysis.intervals import GainInterval, paired_gain_interval
from transferlab.errors import bad_parameter

VERDICTS = ("positive", "negative", "inconclusive")


def verdict(interval: GainInterval, min_effect: float = 0.0) -> str:
    """``positive`` if the whole interval is above ``min_effect``, ``negative`` if it is below.

    The margin is symmetric: ``negative`` needs the whole interval below ``-min_effect``, so a
    gain smaller than the margin either way is ``inconclusive``.

    Parameters
    ----------
    interval : GainInterval
        From :func:`~transferlab.analysis.intervals.paired_gain_interval`.
    min_effect : float
        Smallest gain worth reporting, >= 0, in the units of the scores.

    Returns
    -------
    str
        One of :data:`VERDICTS`.
    """
    _check_min_effect(min_effect)
    if interval.lo > min_effect:
        return "positive"
    if interval.hi < -min_effect:
        return "negative"
    return "inconclusive"


def compare_arms(
    a: np.ndarray,
    b: np.ndarray,
    confidence: float = 0.95,
    min_effect: float = 0.0,
    n_boot: int = 2000,
    random_state: int = 0,
    bounds: tuple[float, float] | None = None,
) -> dict[str, object]:
    """Compare arm ``a`` with baseline ``b`` on the same test examples and seeds.

    Parameters
    ----------
    a, b : array of shape (n_seeds, n_examples)
        Per-example scores, paired by seed (rows) and by test example (columns).
    confidence, n_boot, random_state
        As in :func:`~transferlab.analysis.intervals.paired_gain_interval`.
    min_effect : float
        Margin for the verdict, see :func:`verdict`.
    bounds : (low, high), optional
        The range the gain cannot leave (``(-1, 1)`` for a difference of accuracies). With few
        seeds the t interval can reach past it (two seeds put a t quantile of 12.7 on the seed
        term); the reported ends are clipped to it, which loses no coverage and changes no verdict.

    Returns
    -------
    dict
        JSON-able: ``gain``, ``lo``, ``hi``, ``se``, ``df``, ``n_seeds``, ``n_examples``,
        ``method``, ``seed_variation_measured``, ``confidence``, ``min_effect``, ``verdict``.
    """
    _check_min_effect(min_effect)
    interval = paired_gain_interval(a, b, confidence, n_boot, random_state)
    result = {**asdict(interval), "min_effect": float(min_effect), "verdict": verdict(interval, min_effect)}
    if bounds is not None:
        result["lo"], result["hi"] = max(interval.lo, bounds[0]), min(interval.hi, bounds[1])
    return result


def _check_min_effect(min_effect: float) -> None:
    if not (isinstance(min_effect, int | float) and math.isfinite(min_effect) and min_effect >= 0):
        raise bad_parameter("verdict", "min_effect", min_effect, "a finite float >= 0")
