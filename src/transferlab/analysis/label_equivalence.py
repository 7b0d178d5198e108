"""Label equivalence: how many labels the best no-transfer baseline needs to match a transfer arm.

"minilm-l6 prototype at 40 labels is worth about 150 TF-IDF labels [90, 320]". The reference is
the no-transfer baseline that learned and scored highest at the largest budget (TF-IDF for text,
raw-logreg for features and pixels), never a baseline that did not learn (see
:mod:`~transferlab.analysis.health`): a flat curve prices nothing.

The baseline's curve is its mean accuracy at each measured budget, made non-decreasing (a running
maximum: the fewest labels that reached an accuracy) and interpolated linearly in log budget. A
transfer arm's accuracy is read off it: above the curve's top the answer is "more than the largest
budget" (beyond the measured range), below its bottom "fewer than the smallest"; nothing is
extrapolated. The interval is a percentile bootstrap that resamples test examples (the same
indices for the arm and the baseline: they share the test set) and seeds (the same seeds for
both: they share the budget samples), recomputes both curves and reads the answer again.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from transferlab.analysis.cells import Arm, CellView, group_arms
from transferlab.metrics.task import correct

N_BOOT = 200


def reference_baseline(groups: dict[Arm, list[CellView]], learned: set[Arm]) -> tuple[str, str] | None:
    """(source, strategy) of the learned baseline with the best accuracy at its largest budget."""
    curves: dict[tuple[str, str], dict[int, float]] = {}
    for arm, group in groups.items():
        if group[0].role == "baseline" and arm in learned:
            curves.setdefault(arm[:2], {})[arm[2]] = float(np.mean([c.metrics["accuracy"] for c in group]))
    if not curves:
        return None
    # source-free baselines first (they stand for "no pretrained model at all"), then by accuracy
    return max(curves, key=lambda k: (k[0] == "none", len(curves[k]), curves[k][max(curves[k])], k[1]))


def read_curve(budgets: np.ndarray, accuracy: np.ndarray, target: float) -> float:
    """Labels at which the non-decreasing curve reaches ``target`` (log-linear); inf above, 0 below."""
    curve = np.maximum.accumulate(accuracy)
    if target > curve[-1]:
        return math.inf
    if target <= curve[0]:
        return 0.0 if target < curve[0] else float(budgets[0])
    i = int(np.flatnonzero(curve < target)[-1])  # curve[i] < target <= curve[i + 1]
    t = (target - curve[i]) / (curve[i + 1] - curve[i])
    return float(2.0 ** (np.log2(budgets[i]) + t * (np.log2(budgets[i + 1]) - np.log2(budgets[i]))))


def equivalence_rows(
    cells: list[CellView], labels: np.ndarray, learned: set[Arm], confidence: float, random_state: int = 0
) -> dict[str, Any]:
    """The ``label_equivalence`` block: the reference baseline and one row per transfer arm and budget."""
    groups = group_arms(cells)
    ref = reference_baseline(groups, learned)
    if ref is None:
        return {"baseline": None, "rows": [], "note": "no no-transfer baseline learned, so nothing can be priced"}
    base = {a[2]: _hits(g, labels) for a, g in groups.items() if a[:2] == ref}  # {budget: {seed: (n,)}}
    rng = np.random.default_rng(random_state)
    rows = []
    for arm, group in groups.items():
        if group[0].role != "transfer":
            continue
        for at in sorted(base) if not group[0].needs_labels else [arm[2]]:
            rows.append(_row(arm, at, _hits(group, labels), base, not group[0].needs_labels, confidence, rng))
    budgets = sorted(base)
    for row in rows:
        row["text"] = equivalence_text(row, budgets)
    return {"baseline": {"source": ref[0], "strategy": ref[1]}, "budgets": budgets, "rows": rows}


def _hits(group: list[CellView], labels: np.ndarray) -> dict[int, np.ndarray]:
    return {c.seed: correct(labels, c.proba) for c in group}


def _row(
    arm: Arm,
    at: int,
    hits: dict[int, np.ndarray],
    base: dict[int, dict[int, np.ndarray]],
    label_free: bool,
    confidence: float,
    rng: np.random.Generator,
) -> dict[str, Any]:
    budgets = np.array(sorted(base), dtype=float)
    common = set.intersection(*(set(v) for v in base.values()))
    seeds = sorted(common if label_free else common & set(hits))
    row = {"source": arm[0], "strategy": arm[1], "budget": at, "labels_used": arm[2]}
    if not seeds:
        return row | {"accuracy": None, "equivalent_labels": None, "lo": None, "hi": None, "status": "unpaired"}
    arm_rows = np.stack([hits[next(iter(hits))] if label_free else hits[s] for s in seeds])  # (S, n)
    base_rows = np.stack([np.stack([base[int(b)][s] for s in seeds]) for b in budgets])  # (k, S, n)
    return row | curve_equivalence(arm_rows, base_rows, budgets, confidence, rng)


def curve_equivalence(
    arm_rows: np.ndarray, base_rows: np.ndarray, budgets: np.ndarray, confidence: float, rng: np.random.Generator
) -> dict[str, Any]:
    """The labels at which a curve reaches an arm's accuracy, with its bootstrap interval.

    ``arm_rows`` (S, n) and ``base_rows`` (k, S, n) are per-example hits, paired by seed and test
    example; ``budgets`` (k,) the curve's label counts, increasing. See the module docstring.
    """
    estimate = read_curve(budgets, base_rows.mean(axis=(1, 2)), float(arm_rows.mean()))
    draws = np.array([_replicate(budgets, arm_rows, base_rows, rng) for _ in range(N_BOOT)])
    alpha = 1.0 - confidence
    lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    status = "beyond" if math.isinf(estimate) else "below" if estimate < budgets[0] else "ok"
    return {
        "accuracy": float(arm_rows.mean()),
        "equivalent_labels": None if status != "ok" else estimate,
        "lo": None if lo < budgets[0] else float(lo),
        "hi": None if math.isinf(hi) or hi < budgets[0] else float(hi),
        "status": status,
        "n_seeds": int(arm_rows.shape[0]),
    }


def _replicate(budgets: np.ndarray, arm_rows: np.ndarray, base_rows: np.ndarray, rng: np.random.Generator) -> float:
    n_seeds, n = arm_rows.shape
    seeds, examples = rng.integers(0, n_seeds, n_seeds), rng.integers(0, n, n)
    arm = arm_rows[np.ix_(seeds, examples)].mean()
    curve = base_rows[:, seeds][:, :, examples].mean(axis=(1, 2))  # (k,)
    return read_curve(budgets, curve, float(arm))


def equivalence_text(row: dict[str, Any], budgets: list[int]) -> str:
    """``~150 [90, 320]``, ``more than 640 (beyond the measured range)`` or ``fewer than 10``."""
    if row["status"] == "beyond":
        return f"more than {budgets[-1]} (beyond the measured range)"
    if row["status"] == "unpaired":
        return "no seed shared with the baseline"
    if row["status"] == "below":
        return f"fewer than {budgets[0]} (below the measured range)"
    lo = f"<{budgets[0]}" if row["lo"] is None else f"{row['lo']:.0f}"
    hi = f">{budgets[-1]}" if row["hi"] is None else f"{row['hi']:.0f}"
    return f"~{row['equivalent_labels']:.0f} [{lo}, {hi}]"
