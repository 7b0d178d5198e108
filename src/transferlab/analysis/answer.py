"""The ``decision`` block of summary.json: the answer per budget, overall and per source, in words.

Each answer is one of the fixed forms of :func:`~transferlab.analysis.decision.decide`, with
the interval it rests on, and a sentence that says no more than that interval allows.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.analysis.cells import Arm, CellView, Scores, arm_scores, group_arms
from transferlab.analysis.decision import METHOD, Contender, Rules, decide
from transferlab.analysis.settle import settle_text


def decision_block(
    cells: list[CellView],
    labels: np.ndarray,
    budgets: list[int],
    metric: str,
    rules: Rules,
    learned: set[Arm],
    names: dict[str, str],
) -> dict[str, Any]:
    """Answers per budget over all sources (``per_budget``) and for each source (``per_source``)."""
    groups = group_arms(cells)
    scores = arm_scores(groups, labels, metric)
    sources = sorted({a[0] for a, g in groups.items() if g[0].role == "transfer"})
    per_budget, per_source = [], []
    for budget in budgets:
        per_budget.append(_answer(groups, scores, budget, None, rules, learned, metric, names))
        per_source += [_answer(groups, scores, budget, s, rules, learned, metric, names) for s in sources]
    excluded = sorted(
        {f"{names.get(a[1], a[1])} at {a[2]}" for a, g in groups.items() if _is_baseline(g) and a not in learned}
    )
    return {
        "method": METHOD,
        "confidence": rules.confidence,
        "min_effect": rules.min_effect,
        "margin": rules.margin,
        "metric": metric,
        "per_budget": per_budget,
        "per_source": per_source,
        "excluded_baselines": excluded,
    }


def _is_baseline(group: list[CellView]) -> bool:
    return group[0].role == "baseline"


def _answer(
    groups: dict[Arm, list[CellView]],
    scores: dict[Arm, Scores],
    budget: int,
    source: str | None,
    rules: Rules,
    learned: set[Arm],
    metric: str,
    names: dict[str, str],
) -> dict[str, Any]:
    transfer, baselines = [], []
    for arm, group in groups.items():
        if source is not None and arm[0] not in (source, "none"):
            continue
        label_free = not group[0].needs_labels
        if group[0].role == "transfer" and (arm[2] == budget or label_free):
            transfer.append(Contender(arm, scores[arm], label_free))
        elif _is_baseline(group) and arm[2] == budget and arm in learned:
            baselines.append(Contender(arm, scores[arm]))
    answer = {"budget": budget, "scope": source or "all sources", "margin": rules.margin}
    answer |= decide(transfer, baselines, rules)
    answer["sentence"] = sentence(answer, metric, names)
    return answer


def _arm_name(arm: dict[str, Any], names: dict[str, str], with_source: bool = True) -> str:
    strategy = names.get(arm["strategy"], arm["strategy"])
    return f"{arm['source']} {strategy}" if with_source and arm["source"] != "none" else strategy


def _level(arm: dict[str, Any], accuracy: bool) -> str:
    return f"{arm['mean'] * 100:.1f}%" if accuracy else f"{arm['mean']:.3f}"


def _gain(answer: dict[str, Any], accuracy: bool) -> str:
    if accuracy:
        return f"{answer['gain'] * 100:+.1f} points [{answer['lo'] * 100:+.1f}, {answer['hi'] * 100:+.1f}]"
    return f"{answer['gain']:+.3f} [{answer['lo']:+.3f}, {answer['hi']:+.3f}]"


def sentence(answer: dict[str, Any], metric: str, names: dict[str, str]) -> str:
    """The answer in one or two plain sentences, bounded by its interval."""
    accuracy = metric == "accuracy"
    where = (
        f"At {answer['budget']} labels"
        if answer["scope"] == "all sources"
        else (f"From {answer['scope']} at {answer['budget']} labels")
    )
    kind = answer["kind"]
    if kind == "no transfer arm":
        return f"{where}: no transfer arm finished."
    arm = _arm_name(answer["arm"], names)
    if kind == "no baseline":
        return (
            f"{where}: no no-transfer baseline learned, so the value of transfer cannot be judged;"
            f" the best transfer arm is {arm} ({_level(answer['arm'], accuracy)})."
        )
    base = answer["baseline"]
    base_text = f"{_arm_name(base, names)} ({_level(base, accuracy)})"
    gain = _gain(answer, accuracy)
    if kind == "transfer":
        small = " That gain is smaller than the equivalence margin." if answer.get("smaller_than_margin") else ""
        return f"{where}: transfer. {arm} is ahead of every no-transfer baseline: {gain} over {base_text}.{small}"
    if kind == "do not transfer":
        return f"{where}: do not transfer. {base_text} is ahead of every transfer arm; the best, {arm}, is at {gain}."
    margin = f"±{answer_margin(answer, accuracy)}"
    if kind == "equivalent":
        return f"{where}: equivalent. The best transfer arm, {arm}, is within {margin} of {base_text}: {gain}."
    settle = answer.get("settle")
    hint = f"; {settle_text(settle)}" if settle else ""
    return f"{where}: undecided. The best transfer arm, {arm}, against {base_text}: {gain}{hint}."


def answer_margin(answer: dict[str, Any], accuracy: bool) -> str:
    """The equivalence margin the answer was held to, in the metric's units."""
    margin = float(answer.get("margin", 0.0))
    return f"{margin * 100:.1f} points" if accuracy else f"{margin:.3f}"
