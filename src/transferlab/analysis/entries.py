"""Per-arm results: the mean with its interval, metrics, cost, and the gain over each baseline.

Label-free arms (zero-shot) have one prediction; it is compared with the baselines at every
budget (its single row repeated across the baseline's seeds, see
:func:`~transferlab.analysis.cells.paired_rows`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.analysis.cells import (
    GAIN_RANGE,
    RANGE,
    Arm,
    CellView,
    Scores,
    arm_scores,
    group_arms,
    paired_rows,
    strategy_name,
)
from transferlab.analysis.intervals import mean_interval
from transferlab.analysis.verdicts import compare_arms
from transferlab.metrics.task import TASK_METRICS


def summarise(
    cells: list[CellView],
    labels: np.ndarray,
    budgets: list[int],
    metric: str,
    confidence: float,
    min_effect: float,
) -> list[dict[str, Any]]:
    """One JSON-able entry per arm and budget: mean, interval, metrics, cost, gains with verdicts."""
    groups = group_arms(cells)
    scores = arm_scores(groups, labels, metric)
    baselines = {k for k, v in groups.items() if v[0].role == "baseline"}
    entries = []
    for arm, group in groups.items():
        for at in budgets if arm[2] == 0 else [arm[2]]:
            entry = arm_entry(arm, at, group, scores[arm], metric, confidence)
            entry["gains"] = _gains(arm, at, group, scores, baselines, confidence, min_effect, GAIN_RANGE[metric])
            entries.append(entry)
    return entries


def arm_entry(
    arm: Arm, at: int, group: list[CellView], scores: Scores, metric: str, confidence: float
) -> dict[str, Any]:
    """The entry of one arm at budget ``at`` (``at`` differs from the arm's budget only when label-free)."""
    source, strategy, budget = arm
    matrix = np.stack(list(scores.values()))  # (n_seeds, n_test)
    interval = mean_interval(matrix, confidence) if matrix.shape[1] >= 2 else None
    low, high = RANGE[metric]  # an interval clipped to the metric's range loses no coverage
    return {
        "source": source,
        "strategy": strategy,
        "strategy_name": strategy_name(strategy),
        "role": group[0].role,
        "trains_backbone": group[0].trains_backbone,
        "budget": at,
        "labels_used": budget,
        "n_seeds": len(group),
        "seeds": [c.seed for c in group],
        "metric": metric,
        "mean": float(matrix.mean()),
        "lo": None if interval is None else max(interval.lo, low),
        "hi": None if interval is None else min(interval.hi, high),
        "metrics": {m: float(np.mean([c.metrics[m] for c in group])) for m in TASK_METRICS if m in group[0].metrics},
        "cost": {k: float(np.mean([c.cost.get(k, 0.0) for c in group])) for k in sorted(group[0].cost)},
    }


def _gains(
    arm: Arm,
    at: int,
    group: list[CellView],
    scores: dict[Arm, Scores],
    baselines: set[Arm],
    confidence: float,
    min_effect: float,
    bounds: tuple[float, float],
) -> dict[str, dict[str, Any]]:
    source = arm[0]
    label_free = not group[0].needs_labels
    gains = {}
    for base in sorted(baselines):
        if base == arm or base[2] != at or base[0] not in (source, "none"):
            continue
        rows = paired_rows(scores[arm], scores[base], label_free)
        if rows is not None:
            gains[baseline_label(base)] = compare_arms(
                *rows, confidence=confidence, min_effect=min_effect, bounds=bounds
            )
    return gains


def baseline_label(arm: Arm) -> str:
    """How a baseline is named in the gains of an entry: ``tfidf-logreg`` or ``scratch (minilm-l6)``."""
    return arm[1] if arm[0] == "none" else f"{arm[1]} ({arm[0]})"
