"""Unseen classes (``unseen_classes`` in a spec): seen and unseen accuracy over class splits.

Each seed holds some classes out of training (:mod:`transferlab.study.protocols`). From each
cell's stored test probabilities and its seed's split, per split:

* ``seen``: test images of seen classes, the prediction restricted to the seen classes;
* ``unseen``: test images of unseen classes, restricted to the unseen classes (the usual
  zero-shot accuracy; chance is 1 / number of unseen classes);
* ``gzsl_seen``, ``gzsl_unseen`` and their harmonic mean ``gzsl_h``: the prediction over all
  classes (generalised zero-shot, Xian et al. 2018), where a model biased to the classes it was
  trained on scores near 0 on unseen ones however well it ranks them among themselves.

The interval of each is Student's t over class splits (the splits are independent random draws,
so the t interval covers the mean over random splits). Like the episodic interval it treats the
test set as fixed: it answers "how does the accuracy vary with which classes are held out",
which is the dominant variation when a task has few classes. Comparisons are paired by split:
``unseen`` minus chance, and ``unseen`` minus each baseline's (``devise-random-text``: the same
map into a random text space) at the same source and budget, each with a verdict. A label-free
arm (``zero-shot``) has one prediction for all seeds; it is scored under every seed's split.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.analysis.cells import Arm, CellView, group_arms, strategy_name
from transferlab.analysis.episodic import comparison, t_interval

METHOD = "Student t over class splits"
METRICS = ("seen", "unseen", "gzsl_seen", "gzsl_unseen", "gzsl_h")


def restricted_accuracy(proba: np.ndarray, labels: np.ndarray, columns: np.ndarray) -> float:
    """Accuracy on the examples of ``columns``' classes, predicting among those classes only."""
    rows = np.isin(labels, columns)
    if not rows.any():
        return float("nan")
    predicted = columns[proba[rows][:, columns].argmax(axis=1)]  # (n_rows,) class indices
    return float(np.mean(predicted == labels[rows]))


def _accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


def split_scores(proba: np.ndarray, labels: np.ndarray, unseen: np.ndarray) -> dict[str, float]:
    """The five accuracies of one cell under one class split (see the module docstring)."""
    seen = np.setdiff1d(np.arange(proba.shape[1]), unseen)
    predicted = proba.argmax(axis=1)  # (n_test,) over all classes
    on_seen, on_unseen = ~np.isin(labels, unseen), np.isin(labels, unseen)
    g_seen, g_unseen = (
        _accuracy(predicted[on_seen], labels[on_seen]),
        _accuracy(predicted[on_unseen], labels[on_unseen]),
    )
    harmonic = 2 * g_seen * g_unseen / (g_seen + g_unseen) if g_seen + g_unseen > 0 else 0.0  # NaN stays NaN
    return {
        "seen": restricted_accuracy(proba, labels, seen),
        "unseen": restricted_accuracy(proba, labels, unseen),
        "gzsl_seen": g_seen,
        "gzsl_unseen": g_unseen,
        "gzsl_h": harmonic,
    }


def _per_split(group: list[CellView], labels: np.ndarray, splits: dict[int, np.ndarray]) -> dict[int, dict[str, float]]:
    """{seed: scores} of one arm: each cell under its seed's split (a label-free arm under every split)."""
    if not group[0].needs_labels:
        return {seed: split_scores(group[0].proba, labels, unseen) for seed, unseen in splits.items()}
    return {c.seed: split_scores(c.proba, labels, splits[c.seed]) for c in group if c.seed in splits}


def _row(
    arm: Arm,
    scores: dict[Arm, dict[int, dict[str, float]]],
    baselines: list[Arm],
    chance: dict[int, float],
    rules: tuple[float, float],
) -> dict[str, Any]:
    confidence, min_effect = rules
    mine = scores[arm]
    seeds = sorted(mine)
    row: dict[str, Any] = {"source": arm[0], "strategy": arm[1], "strategy_name": strategy_name(arm[1])}
    row |= {"budget": arm[2], "n_splits": len(seeds)}
    for metric in METRICS:
        interval = t_interval(np.array([mine[s][metric] for s in seeds]), confidence, METHOD)
        row[metric] = {"mean": interval.gain, "lo": _finite(interval.lo), "hi": _finite(interval.hi)}
    row["chance_unseen"] = float(np.mean([chance[s] for s in seeds]))
    above_chance = np.array([mine[s]["unseen"] - chance[s] for s in seeds])
    row["unseen_vs_chance"] = comparison(above_chance, confidence, min_effect, METHOD)
    row["unseen_vs"] = {}
    for base in baselines:
        if base == arm or base[0] != arm[0] or base[2] not in (arm[2], 0):
            continue
        shared = sorted(set(mine) & set(scores[base]))
        diffs = np.array([mine[s]["unseen"] - scores[base][s]["unseen"] for s in shared])
        if len(diffs):
            row["unseen_vs"][base[1]] = comparison(diffs, confidence, min_effect, METHOD)
    return row


def _finite(value: float) -> float | None:
    return value if np.isfinite(value) else None


def zero_shot_block(
    cells: list[CellView],
    labels: np.ndarray,
    class_splits: dict[int, list[int]],
    classes: list[str],
    confidence: float,
    min_effect: float,
) -> dict[str, Any] | None:
    """The ``zero_shot`` block of summary.json (None unless the study held classes out)."""
    if not class_splits or not cells:
        return None
    splits = {seed: np.array(unseen, dtype=np.int64) for seed, unseen in class_splits.items()}
    groups = group_arms(cells)
    scores = {arm: _per_split(group, labels, splits) for arm, group in groups.items()}
    scores = {arm: s for arm, s in scores.items() if s}
    baselines = [arm for arm in scores if groups[arm][0].role == "baseline"]
    chance = {seed: 1.0 / len(unseen) for seed, unseen in splits.items()}
    rows = [_row(arm, scores, baselines, chance, (confidence, min_effect)) for arm in sorted(scores)]
    named = {str(seed): [classes[i] for i in unseen] for seed, unseen in class_splits.items()}
    return {"method": METHOD, "confidence": confidence, "unseen_by_seed": named, "rows": rows}
