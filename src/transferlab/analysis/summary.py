"""From finished cells to what they mean: per-arm means with intervals, gains and verdicts.

An *arm* is (source, strategy, budget). For each arm the primary metric's per-example scores
form an ``(n_seeds, n_test)`` matrix; its gain over each baseline at the same budget is
compared seed by seed (shared budget samples) and example by example (shared test set).
Label-free arms (zero-shot) have one prediction; it is repeated across the baseline's seeds so
that they are compared at every budget.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from transferlab.analysis.intervals import mean_interval
from transferlab.analysis.verdicts import compare_arms
from transferlab.metrics.task import TASK_METRICS, correct, log_loss_per_example

PER_EXAMPLE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "accuracy": correct,
    "nll": lambda y, p: -log_loss_per_example(y, p),  # negated: a positive gain is always better
}


RANGE = {"accuracy": (0.0, 1.0), "nll": (-np.inf, 0.0)}
GAIN_RANGE = {"accuracy": (-1.0, 1.0), "nll": (-np.inf, np.inf)}  # what a difference of two means can reach


@dataclass(frozen=True)
class CellView:
    """A finished cell as the analysis sees it."""

    source: str
    strategy: str
    budget: int
    seed: int
    role: str
    metrics: dict[str, float]
    cost: dict[str, float]
    proba: np.ndarray  # (n_test, C)


def group_arms(cells: list[CellView]) -> dict[tuple[str, str, int], list[CellView]]:
    """Cells grouped by (source, strategy, budget), sorted by seed."""
    groups: dict[tuple[str, str, int], list[CellView]] = defaultdict(list)
    for cell in cells:
        groups[(cell.source, cell.strategy, cell.budget)].append(cell)
    return {k: sorted(v, key=lambda c: c.seed) for k, v in sorted(groups.items())}


def score_matrix(cells: list[CellView], labels: np.ndarray, metric: str) -> dict[int, np.ndarray]:
    """Per-seed per-example scores of the primary metric: {seed: (n_test,)}."""
    return {c.seed: PER_EXAMPLE[metric](labels, c.proba) for c in cells}


def paired_rows(arm: dict[int, np.ndarray], base: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray] | None:
    """Stack the seeds both arms have; a single-prediction arm is repeated across the other's seeds."""
    if len(arm) == 1 and len(base) > 1:
        arm = {s: next(iter(arm.values())) for s in base}
    seeds = sorted(set(arm) & set(base))
    if not seeds:
        return None
    return np.stack([arm[s] for s in seeds]), np.stack([base[s] for s in seeds])


def summarise(
    cells: list[CellView],
    labels: np.ndarray,
    budgets: list[int],
    metric: str,
    confidence: float,
    min_effect: float,
) -> list[dict[str, Any]]:
    """One JSON-able entry per arm and budget: means, interval, cost, gains with verdicts."""
    groups = group_arms(cells)
    scores = {k: score_matrix(v, labels, metric) for k, v in groups.items()}
    baselines = {k for k, v in groups.items() if v[0].role == "baseline"}
    entries = []
    for (source, strategy, budget), group in groups.items():
        for at in budgets if budget == 0 else [budget]:
            entry = _entry(source, strategy, budget, at, group, scores, metric, confidence)
            arm = (source, strategy, budget)
            entry["gains"] = _gains(arm, at, scores, baselines, confidence, min_effect, GAIN_RANGE[metric])
            entries.append(entry)
    return entries


def _entry(
    source: str,
    strategy: str,
    budget: int,
    at: int,
    group: list[CellView],
    scores: dict[tuple[str, str, int], dict[int, np.ndarray]],
    metric: str,
    confidence: float,
) -> dict[str, Any]:
    matrix = np.stack(list(scores[(source, strategy, budget)].values()))
    interval = mean_interval(matrix, confidence) if matrix.shape[1] >= 2 else None
    low, high = RANGE[metric]  # an interval clipped to the metric's range loses no coverage
    return {
        "source": source,
        "strategy": strategy,
        "role": group[0].role,
        "budget": at,
        "labels_used": budget,
        "n_seeds": len(group),
        "metric": metric,
        "mean": float(matrix.mean()),
        "lo": None if interval is None else max(interval.lo, low),
        "hi": None if interval is None else min(interval.hi, high),
        "metrics": {m: float(np.mean([c.metrics[m] for c in group])) for m in TASK_METRICS},
        "cost": {k: float(np.mean([c.cost.get(k, 0.0) for c in group])) for k in group[0].cost},
    }


def _gains(
    arm: tuple[str, str, int],
    at: int,
    scores: dict[tuple[str, str, int], dict[int, np.ndarray]],
    baselines: set[tuple[str, str, int]],
    confidence: float,
    min_effect: float,
    bounds: tuple[float, float],
) -> dict[str, dict[str, Any]]:
    source, _, _ = arm
    gains = {}
    for base in sorted(baselines):
        if base == arm or base[2] != at or base[0] not in (source, "none"):
            continue
        rows = paired_rows(scores[arm], scores[base])
        if rows is not None:
            name = base[1] if base[0] == "none" else f"{base[1]} ({base[0]})"
            gains[name] = compare_arms(*rows, confidence=confidence, min_effect=min_effect, bounds=bounds)
    return gains
