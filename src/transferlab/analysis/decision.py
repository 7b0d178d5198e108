"""The study's answer at each budget: transfer, do not transfer, equivalent, or undecided.

At one budget (over all sources, and for each source alone) every transfer arm is compared with
every no-transfer baseline that learned (see :mod:`~transferlab.analysis.health`), each gain
paired by seed and test example (:func:`~transferlab.analysis.verdicts.compare_arms`).

**Selection.** Naming "the best arm" picks the maximum of several noisy arms, which is biased
upward; an interval computed for that arm as if it had been chosen in advance is too narrow
(the ladder's old challenger test claimed a gain 5-6 % of the time on null data, nominal 2.5 %).
Here every one of the ``m = n_transfer x n_baselines`` intervals is computed at confidence
``1 - alpha / m`` (Bonferroni), so with probability >= ``1 - alpha`` *all* of them cover their
gains at once, and any claim read off them, about whichever arm turns out best, holds at the
nominal rate. The price is wider intervals when many arms are compared. The answer, in order:

* ``transfer``: some transfer arm is ahead of *every* learned baseline (each interval above
  ``min_effect``); the one with the highest mean among those is named, with its gain over the
  best baseline (the one with the highest mean).
* ``do not transfer``: some baseline is ahead of *every* transfer arm; the best transfer arm's
  gain over it is the evidence.
* ``equivalent``: the best transfer arm and the best baseline are within ``+/- margin``: their
  simultaneous interval lies inside it (the interval-inclusion form of TOST).
* ``undecided``: the intervals allow either. What would settle it is estimated from the observed
  variance components of that comparison (:func:`settle`), assuming the observed gain holds.

On a null study (every arm the same) the first two are claimed at most ``alpha`` of the time
(tested by simulation in ``tests/test_decision.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from transferlab.analysis.cells import Arm, Scores, mean_score, paired_rows
from transferlab.analysis.settle import settle
from transferlab.analysis.verdicts import compare_arms

DEFAULT_MARGIN = 0.02
METHOD = "Bonferroni-simultaneous two-way intervals over every transfer arm x baseline pair"


@dataclass(frozen=True)
class Contender:
    """An arm competing at one budget: its per-seed per-example scores."""

    arm: Arm  # (source, strategy label, labels used)
    scores: Scores
    label_free: bool = False

    @property
    def mean(self) -> float:
        return mean_score(self.scores)

    def describe(self) -> dict[str, Any]:
        return {"source": self.arm[0], "strategy": self.arm[1], "labels_used": self.arm[2], "mean": self.mean}


@dataclass(frozen=True)
class Rules:
    """How sure (``confidence``), how large a gain counts (``min_effect``), how close is equivalent."""

    confidence: float = 0.95
    min_effect: float = 0.0
    margin: float = DEFAULT_MARGIN
    bounds: tuple[float, float] = (-1.0, 1.0)


def decide(transfer: list[Contender], baselines: list[Contender], rules: Rules) -> dict[str, Any]:
    """The answer for one budget and scope (see the module docstring); JSON-able."""
    if not transfer:
        return {"kind": "no transfer arm"}
    best_t = max(transfer, key=_rank)
    if not baselines:
        return {"kind": "no baseline", "arm": best_t.describe()}
    m = len(transfer) * len(baselines)
    level = 1.0 - (1.0 - rules.confidence) / m
    pairs = {(t.arm, b.arm): _compare(t, b, level, rules) for t in transfer for b in baselines}
    best_b = max(baselines, key=_rank)
    out: dict[str, Any] = {"n_compared": m, "pair_confidence": level, "baseline": best_b.describe()}
    winners = [t for t in transfer if all(_ahead(pairs.get((t.arm, b.arm)), rules) for b in baselines)]
    if winners:
        pick = max(winners, key=_rank)
        return out | _claim("transfer", pick, _known(pairs[(pick.arm, best_b.arm)]), rules)
    beaten_by = [b for b in baselines if all(_behind(pairs.get((t.arm, b.arm)), rules) for t in transfer)]
    if beaten_by:
        pick_b = max(beaten_by, key=_rank)
        return (
            out
            | {"baseline": pick_b.describe()}
            | _claim("do not transfer", best_t, _known(pairs[(best_t.arm, pick_b.arm)]))
        )
    gain = pairs.get((best_t.arm, best_b.arm))
    if gain is None:
        return out | {"kind": "undecided", "arm": best_t.describe(), "note": "the two arms share no seed"}
    if -rules.margin <= gain["lo"] and gain["hi"] <= rules.margin:
        return out | _claim("equivalent", best_t, gain)
    rows = _rows(best_t, best_b)
    assert rows is not None  # gain exists, so the arms share seeds
    needed = settle(rows[0] - rows[1], level, rules.min_effect, rules.margin)
    return out | _claim("undecided", best_t, gain) | {"settle": needed}


def _rank(c: Contender) -> tuple[float, str, str]:
    """Highest mean first; ties broken by name, so the pick never depends on dict order."""
    return (c.mean, c.arm[0], c.arm[1])


def _rows(t: Contender, b: Contender) -> tuple[np.ndarray, np.ndarray] | None:
    return paired_rows(t.scores, b.scores, t.label_free)


def _compare(t: Contender, b: Contender, level: float, rules: Rules) -> dict[str, Any] | None:
    rows = _rows(t, b)
    if rows is None:
        return None
    return compare_arms(*rows, confidence=level, min_effect=rules.min_effect, bounds=rules.bounds)


def _known(gain: dict[str, Any] | None) -> dict[str, Any]:
    """A comparison a claim rests on: always computed (a claim needs every pair it quantifies over)."""
    assert gain is not None
    return gain


def _ahead(gain: dict[str, Any] | None, rules: Rules) -> bool:
    return gain is not None and gain["lo"] > rules.min_effect


def _behind(gain: dict[str, Any] | None, rules: Rules) -> bool:
    return gain is not None and gain["hi"] < -rules.min_effect


def _claim(kind: str, arm: Contender, gain: dict[str, Any], rules: Rules | None = None) -> dict[str, Any]:
    claim = {
        "kind": kind,
        "arm": arm.describe(),
        "gain": gain["gain"],
        "lo": gain["lo"],
        "hi": gain["hi"],
        "n_seeds": gain["n_seeds"],
        "seed_variation_measured": gain["seed_variation_measured"],
    }
    if rules is not None and kind == "transfer":
        claim["smaller_than_margin"] = bool(gain["hi"] < rules.margin)
    return claim
