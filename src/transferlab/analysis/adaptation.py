"""The ``adaptation`` block of a domain study: each method's target accuracy and its gain over not adapting.

Per source, source budget and target budget: every transfer arm's accuracy on the target test set
(mean over seeds and test examples, with the study's interval), its per-seed accuracies and their
spread (adversarial methods are unstable: a mean over seeds hides a seed that collapsed), its
training-health flags, and its gain over the no-adaptation arm
(:func:`~transferlab.analysis.domain_arms.reference_arm`), paired by seed and test example with a
verdict (:func:`~transferlab.analysis.verdicts.compare_arms`, the interval every gain of a study
uses). Accuracy throughout: it is what "what does the shift cost, what does adapting recover" is
asked in, whatever the study's primary metric.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from transferlab.analysis.cells import Arm, CellView, Scores, arm_scores, group_arms, paired_rows
from transferlab.analysis.domain_arms import reference_arm, split_target_label
from transferlab.analysis.intervals import mean_interval
from transferlab.analysis.verdicts import compare_arms

METRIC = "accuracy"


def adaptation_block(
    cells: list[CellView], labels: np.ndarray, confidence: float, min_effect: float, health: dict[str, Any]
) -> dict[str, Any]:
    """Every transfer arm of a domain study against its no-adaptation reference (see the module docstring)."""
    groups = {arm: g for arm, g in group_arms(cells).items() if g[0].role == "transfer"}
    scores = arm_scores(groups, labels, METRIC)
    flags = {(a["source"], a["strategy"], a["budget"]): a for a in health.get("arms", [])}
    by_setting: dict[tuple[str, int, int], list[Arm]] = defaultdict(list)
    for arm in groups:
        by_setting[(arm[0], arm[2], split_target_label(arm[1])[1])].append(arm)
    blocks = []
    for (source, budget, target_budget), arms in sorted(by_setting.items()):
        names = [a[1] for a in arms]
        rows = [
            _row(arm, groups, scores, names, flags.get(arm, {}), confidence, min_effect)
            for arm in sorted(
                arms, key=lambda a: (reference_arm(a[1], groups[a][0].trains_backbone, names) is not None, a)
            )
        ]
        blocks.append({"source": source, "budget": budget, "target_budget": target_budget, "rows": rows})
    return {"metric": METRIC, "confidence": confidence, "min_effect": min_effect, "groups": blocks}


def _row(
    arm: Arm,
    groups: dict[Arm, list[CellView]],
    scores: dict[Arm, Scores],
    names: list[str],
    health: dict[str, Any],
    confidence: float,
    min_effect: float,
) -> dict[str, Any]:
    """One arm: accuracy with interval, per-seed accuracies, health, and the gain over its reference."""
    matrix = np.stack(list(scores[arm].values()))  # (n_seeds, n_test)
    interval = mean_interval(matrix, confidence) if matrix.shape[1] >= 2 else None
    per_seed = matrix.mean(axis=1)  # (n_seeds,)
    reference = reference_arm(arm[1], groups[arm][0].trains_backbone, names)
    gain = None
    if reference is not None:
        rows = paired_rows(scores[arm], scores[(arm[0], reference, arm[2])])
        if rows is not None:
            gain = compare_arms(*rows, confidence=confidence, min_effect=min_effect, bounds=(-1.0, 1.0))
    return {
        "strategy": arm[1],
        "accuracy": float(matrix.mean()),
        "lo": None if interval is None else max(interval.lo, 0.0),
        "hi": None if interval is None else min(interval.hi, 1.0),
        "seeds": sorted(scores[arm]),
        "per_seed": [float(a) for a in per_seed],
        "seed_sd": float(np.std(per_seed, ddof=1)) if len(per_seed) > 1 else None,
        "seed_range": float(per_seed.max() - per_seed.min()),
        "trains_backbone": groups[arm][0].trains_backbone,
        "reference": reference,
        "gain": gain,
        "flags": list(health.get("flags", [])),
        "learned": bool(health.get("learned", True)),
    }
