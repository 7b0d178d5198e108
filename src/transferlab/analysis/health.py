"""Training health: did each arm learn, and did its training go wrong?

A weak baseline is how transfer results lie: a gain over an arm that learned nothing is no
evidence of transfer. Every arm (transfer arms and baselines) is checked:

* **did not learn**: its accuracy interval (seeds and test examples, the study's confidence)
  reaches down to the *reference rate*, the larger of chance (1 / n_classes) and the majority
  class's share of the test set. Predicting the majority class gets the latter for free, so an
  arm must be shown to beat it to count as having learned.
* **flags** recorded by its cells: the training loss became NaN or diverged (``nan-loss``,
  ``diverged``), an adversarial domain classifier collapsed, or the model predicted a single
  class for every test example (``one-class``, computed here from the stored predictions).

Verdicts against a baseline that did not learn stay in ``summary.json``, marked
``baseline_learned: false``, and are left out of the headline counts and of the decision.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.analysis.cells import Arm, CellView, group_arms
from transferlab.analysis.intervals import mean_interval
from transferlab.metrics.task import correct

ONE_CLASS = "one-class"


def reference_rate(labels: np.ndarray, n_classes: int) -> tuple[float, float]:
    """(chance, majority share) of a test set with ``n_classes`` classes."""
    counts = np.bincount(labels, minlength=n_classes)
    return 1.0 / n_classes, float(counts.max() / counts.sum())


def cell_flags(cell: CellView) -> list[str]:
    """The cell's recorded flags, plus ``one-class`` when every prediction is the same class."""
    flags = list(cell.health)
    if len(np.unique(np.argmax(cell.proba, axis=1))) == 1:
        flags.append(ONE_CLASS)
    return sorted(set(flags))


def arm_health(
    arm: Arm, group: list[CellView], labels: np.ndarray, reference: float, confidence: float
) -> dict[str, Any]:
    """Whether one arm learned (accuracy interval above ``reference``) and its cells' flags."""
    hits = np.stack([correct(labels, c.proba) for c in group])  # (n_seeds, n_test)
    interval = mean_interval(hits, confidence)
    flags = sorted({f for c in group for f in cell_flags(c)})
    learned = interval.lo > reference and not flags
    return {
        "source": arm[0],
        "strategy": arm[1],
        "budget": arm[2],
        "role": group[0].role,
        "accuracy": float(hits.mean()),
        "lo": float(max(interval.lo, 0.0)),
        "hi": float(min(interval.hi, 1.0)),
        "learned": bool(learned),
        "flags": flags,
        "reason": _reason(interval.lo, reference, flags),
    }


def _reason(lo: float, reference: float, flags: list[str]) -> str:
    parts = []
    if lo <= reference:
        parts.append(
            f"its accuracy interval reaches down to {max(lo, 0.0) * 100:.1f}%, not above the {reference * 100:.1f}%"
            " that chance or always predicting the majority class gets"
        )
    parts += [FLAG_TEXT.get(f, f) for f in flags]
    return "; ".join(parts)


FLAG_TEXT = {
    ONE_CLASS: "it predicted one class for every test example",
    "nan-loss": "its training loss became NaN",
    "diverged": "its training loss rose instead of falling",
    "domain-collapse": "its domain classifier collapsed (adversarial training failed)",
}


def health_block(cells: list[CellView], labels: np.ndarray, n_classes: int, confidence: float) -> dict[str, Any]:
    """The ``health`` block of summary.json: every arm, with the reference rate it was held to."""
    chance, majority = reference_rate(labels, n_classes)
    reference = max(chance, majority)
    arms = [arm_health(arm, group, labels, reference, confidence) for arm, group in group_arms(cells).items()]
    return {
        "chance": chance,
        "majority": majority,
        "reference_rate": reference,
        "arms": arms,
        "not_learned": [a for a in arms if not a["learned"]],
    }


def learned_arms(health: dict[str, Any]) -> set[Arm]:
    """The (source, strategy, budget) of every arm that learned."""
    return {(a["source"], a["strategy"], a["budget"]) for a in health["arms"] if a["learned"]}


def mark_entries(entries: list[dict[str, Any]], health: dict[str, Any]) -> None:
    """Mark each entry and each of its gains with whether the arm and the baseline learned (in place)."""
    learned = learned_arms(health)
    baselines = {
        _baseline_key(e): (e["source"], e["strategy"], e["labels_used"]) for e in entries if e["role"] == "baseline"
    }
    for e in entries:
        e["learned"] = (e["source"], e["strategy"], e["labels_used"]) in learned
        for name, gain in e["gains"].items():
            gain["baseline_learned"] = baselines.get((name, e["budget"])) in learned


def _baseline_key(entry: dict[str, Any]) -> tuple[str, int]:
    name = entry["strategy"] if entry["source"] == "none" else f"{entry['strategy']} ({entry['source']})"
    return name, entry["budget"]
