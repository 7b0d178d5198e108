"""What would settle an undecided comparison: how many seeds, or how many test examples.

A gain's interval half-width is ``sqrt(t(S-1)**2 v_seed + t(n-1)**2 v_example)`` (Banerjee; see
:mod:`~transferlab.analysis.intervals`), where ``v_seed`` shrinks as 1/S and ``v_example`` as
1/n. Holding the observed gain and the observed variance components fixed, we solve for the
smallest number of seeds S' (same test set) and, separately, the smallest test set n' (same
seeds) at which the interval becomes narrow enough to decide:

* to show a difference, the half-width must fall below ``|gain| - min_effect``;
* to show equivalence, below ``margin - |gain|``;

whichever target is easier (larger). It is a planning estimate, not a promise: the next seeds
may move the gain, and with two or three seeds the variance estimate itself is rough.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.analysis.intervals import banerjee_half_width, variance_components

MAX_SEEDS = 100
MAX_EXAMPLES = 1_000_000


def settle(d: np.ndarray, confidence: float, min_effect: float, margin: float) -> dict[str, Any]:
    """Seeds or test examples that would decide the per-example differences ``d`` ``(n_seeds, n_test)``."""
    n_seeds, n_test = d.shape
    gain = abs(float(d.mean()))
    goals = {"difference": gain - min_effect, "equivalence": margin - gain}
    goal = max(goals, key=lambda g: goals[g])
    target = goals[goal]
    out: dict[str, Any] = {"goal": goal, "target_half_width": target, "seeds_now": n_seeds, "test_examples_now": n_test}
    if n_seeds < 2:
        return out | {"seeds": None, "test_examples": None, "note": "one seed: run 3 or more to measure seed variation"}
    v_seed, v_example = variance_components(d)

    def half(seeds: int, examples: int) -> float:
        return banerjee_half_width(v_seed * n_seeds / seeds, v_example * n_test / examples, seeds, examples, confidence)

    out["half_width"] = half(n_seeds, n_test)
    if target <= 0:
        return out | {"seeds": None, "test_examples": None, "note": "the gain sits on the decision boundary"}
    seeds = next((s for s in range(n_seeds + 1, MAX_SEEDS + 1) if half(s, n_test) < target), None)
    return out | {"seeds": seeds, "test_examples": _examples_needed(half, n_seeds, n_test, target)}


def _examples_needed(half: Any, n_seeds: int, n_test: int, target: float) -> int | None:
    """Smallest test-set size (doubling, then bisection) at which ``half`` falls below ``target``."""
    high = n_test * 2
    while half(n_seeds, high) >= target:
        if high >= MAX_EXAMPLES:
            return None
        high = min(high * 2, MAX_EXAMPLES)
    low = n_test
    while high - low > max(1, low // 100):  # 1 % resolution is plenty for a planning figure
        middle = (low + high) // 2
        low, high = (low, middle) if half(n_seeds, middle) < target else (middle, high)
    return int(high)


def settle_text(needed: dict[str, Any]) -> str:
    """``about 7 seeds (now 3) or about 1,800 test examples (now 450) would settle it``."""
    if needed.get("note"):
        return str(needed["note"])
    options = []
    if needed.get("seeds"):
        options.append(f"about {needed['seeds']} seeds (now {needed['seeds_now']})")
    if needed.get("test_examples"):
        options.append(f"about {_round(needed['test_examples']):,} test examples (now {needed['test_examples_now']:,})")
    what = "a difference" if needed["goal"] == "difference" else "equivalence"
    if not options:
        return f"neither more seeds (up to {MAX_SEEDS}) nor more test examples alone would show {what}: both are needed"
    return f"{' or '.join(options)} would show {what}, if the observed gain and variances hold"


def _round(n: int) -> int:
    """Two significant figures: a planning estimate should not look precise."""
    digits = max(len(str(n)) - 2, 0)
    return int(np.ceil(n / 10**digits) * 10**digits)
