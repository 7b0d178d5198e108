"""Few-shot episodes (:mod:`transferlab.study.episodes`): mean accuracy over episodes, and paired comparisons.

The interval is Student's t over episodes, ``mean +/- t(E-1) * sd / sqrt(E)``: the interval
few-shot papers report (written ``+/- 1.96 sd / sqrt(E)`` at 600 episodes), so the numbers compare
with the literature. Episodes are independent draws given the data, so by the central limit
theorem it covers the mean accuracy over episodes drawn from *these* examples at its nominal
rate (``tests/test_episodic.py`` checks 0.95 by simulation, episodes drawn from real embeddings).
It leaves out the variation that a different pool and test set would bring, since every episode
draws from the same ones; the study's main intervals include that part (see ``intervals.py``).

Each arm is compared with ``prototype`` (the prototypical-network baseline of meta-learning) of the
same source at the same K, episode by episode: one seed and episode number is one set of classes,
support and queries for every arm, so the paired t interval on per-episode differences is the
comparison. A label-free arm (``zero-shot``, K = 0) is compared with the 1-shot (smallest K)
prototype on the same classes and queries: is a class name worth one labelled example?
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import special

from transferlab.analysis.cells import strategy_name
from transferlab.analysis.intervals import GainInterval
from transferlab.analysis.verdicts import verdict

METHOD = "Student t over episodes (mean +/- t sd / sqrt(E))"
BASELINE = "prototype"


@dataclass(frozen=True)
class EpisodeView:
    """A finished episodic cell: its arm, K, seed and per-episode accuracies ``(n_episodes,)``."""

    source: str
    strategy: str
    shots: int
    seed: int
    accuracies: np.ndarray


def t_interval(values: np.ndarray, confidence: float, method: str = METHOD) -> GainInterval:
    """Mean of independent ``values`` with its Student t interval (no interval below 2 values)."""
    n, mean = len(values), float(np.mean(values))
    if n < 2:
        return GainInterval(mean, math.nan, math.nan, math.nan, 0.0, 1, n, method, False, confidence)
    se = float(np.std(values, ddof=1)) / math.sqrt(n)
    half = float(special.stdtrit(n - 1, 0.5 + confidence / 2)) * se
    return GainInterval(mean, mean - half, mean + half, se, float(n - 1), 1, n, method, True, confidence)


def comparison(diffs: np.ndarray, confidence: float, min_effect: float, method: str = METHOD) -> dict[str, Any]:
    """A paired gain (mean of ``diffs``) with its t interval and verdict, JSON-able like ``compare_arms``."""
    interval = t_interval(diffs, confidence, method)
    found = verdict(interval, min_effect) if math.isfinite(interval.lo) else "inconclusive"
    out = asdict(interval) | {"min_effect": float(min_effect), "verdict": found}
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in out.items()}


Arm = tuple[str, str, int]  # (source, strategy label, K)
Episodes = dict[tuple[int, int], float]  # {(seed, episode): accuracy}


def _arms(views: list[EpisodeView]) -> dict[Arm, Episodes]:
    arms: dict[Arm, Episodes] = defaultdict(dict)
    for view in sorted(views, key=lambda v: (v.source, v.strategy, v.shots, v.seed)):
        for e, accuracy in enumerate(view.accuracies):
            arms[(view.source, view.strategy, view.shots)][(view.seed, e)] = float(accuracy)
    return dict(arms)


def _reference(arm: Arm, arms: dict[Arm, Episodes]) -> Arm | None:
    """The prototype arm an arm is compared with (None for prototype itself, or when there is none)."""
    source, strategy, shots = arm
    if strategy_name(strategy) == BASELINE:
        return None
    candidates = sorted(a for a in arms if a[0] == source and strategy_name(a[1]) == BASELINE and a[2] > 0)
    wanted = [a for a in candidates if a[2] == shots] or ([candidates[0]] if shots == 0 and candidates else [])
    return wanted[0] if wanted else None


def _row(arm: Arm, arms: dict[Arm, Episodes], n_way: int, confidence: float, min_effect: float) -> dict[str, Any]:
    values = np.array(list(arms[arm].values()))
    interval = t_interval(values, confidence)
    row = {"source": arm[0], "strategy": arm[1], "strategy_name": strategy_name(arm[1]), "shots": arm[2]}
    row |= {"n_episodes": len(values), "mean": interval.gain, "lo": interval.lo, "hi": interval.hi}
    row |= {"chance": 1.0 / n_way, "vs": None, "gain": None}
    reference = _reference(arm, arms)
    shared = sorted(set(arms[arm]) & set(arms[reference])) if reference else []
    if reference and shared:
        diffs = np.array([arms[arm][k] - arms[reference][k] for k in shared])
        row |= {"vs": f"{reference[1]} {reference[2]}-shot", "gain": comparison(diffs, confidence, min_effect)}
    return row


def episodic_block(
    views: list[EpisodeView], settings: dict[str, Any], confidence: float, min_effect: float
) -> dict[str, Any] | None:
    """The ``episodic`` block of summary.json (None when the study ran no episodes)."""
    if not views:
        return None
    arms = _arms(views)
    n_way = int(settings["n_way"])
    rows = [_row(arm, arms, n_way, confidence, min_effect) for arm in sorted(arms, key=lambda a: (a[0], a[2], a[1]))]
    return {"settings": settings, "confidence": confidence, "method": METHOD, "baseline": BASELINE, "rows": rows}
