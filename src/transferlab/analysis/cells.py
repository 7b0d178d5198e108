"""Finished cells as the analysis sees them, grouped into arms, and their per-example scores.

An *arm* is (source, strategy, budget). For each arm the primary metric's per-example scores
form an ``(n_seeds, n_test)`` matrix, paired with every other arm seed by seed (arms with the
same seed share their budget sample) and example by example (one fixed test set).

The analysis never reads a registry or loads data: what it needs to know about a strategy
(does it train the backbone, does it need labels) travels with the cell.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from transferlab.metrics.task import correct, log_loss_per_example

Arm = tuple[str, str, int]  # (source, strategy label, budget)
Scores = dict[int, np.ndarray]  # {seed: (n_test,) per-example scores}

PER_EXAMPLE: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "accuracy": correct,
    "nll": lambda y, p: -log_loss_per_example(y, p),  # negated: a positive gain is always better
}
RANGE = {"accuracy": (0.0, 1.0), "nll": (-np.inf, 0.0)}
GAIN_RANGE = {"accuracy": (-1.0, 1.0), "nll": (-np.inf, np.inf)}  # what a difference of two means can reach


@dataclass(frozen=True)
class CellView:
    """A finished cell: its scores, cost, per-example test probabilities and what its strategy is."""

    source: str
    strategy: str
    budget: int
    seed: int
    role: str  # "transfer" | "baseline"
    metrics: dict[str, float]
    cost: dict[str, float]
    proba: np.ndarray  # (n_test, C)
    trains_backbone: bool = False
    needs_labels: bool = True
    health: tuple[str, ...] = field(default=())  # flags recorded by the cell (NaN loss, one class, ...)
    source_proba: np.ndarray | None = None  # (n_source_test, C): a cross-lingual study's source-language test set


def strategy_name(label: str) -> str:
    """``finetune-top-k(k=2)`` -> ``finetune-top-k``."""
    return label.split("(", 1)[0]


def group_arms(cells: list[CellView]) -> dict[Arm, list[CellView]]:
    """Cells grouped by (source, strategy, budget), sorted by seed."""
    groups: dict[Arm, list[CellView]] = defaultdict(list)
    for cell in cells:
        groups[(cell.source, cell.strategy, cell.budget)].append(cell)
    return {k: sorted(v, key=lambda c: c.seed) for k, v in sorted(groups.items())}


def score_matrix(cells: list[CellView], labels: np.ndarray, metric: str) -> Scores:
    """Per-seed per-example scores of ``metric``: {seed: (n_test,)}."""
    return {c.seed: PER_EXAMPLE[metric](labels, c.proba) for c in cells}


def arm_scores(groups: dict[Arm, list[CellView]], labels: np.ndarray, metric: str) -> dict[Arm, Scores]:
    """:func:`score_matrix` of every arm."""
    return {k: score_matrix(v, labels, metric) for k, v in groups.items()}


def paired_rows(arm: Scores, base: Scores, label_free: bool = False) -> tuple[np.ndarray, np.ndarray] | None:
    """Stack the seeds both arms have, paired by seed; None when they share none.

    A label-free arm (zero-shot: one prediction, no budget sample) is the same whatever the seed,
    so its single row is repeated across the other arm's seeds. Any other arm is paired only on
    the seeds both have: a labelled arm that lost seeds is compared on the seeds it kept.
    """
    if label_free and len(arm) == 1 and len(base) > 1:
        arm = {s: next(iter(arm.values())) for s in base}
    seeds = sorted(set(arm) & set(base))
    if not seeds:
        return None
    return np.stack([arm[s] for s in seeds]), np.stack([base[s] for s in seeds])


def mean_score(scores: Scores) -> float:
    """Mean over seeds and test examples."""
    return float(np.mean(np.stack(list(scores.values()))))
