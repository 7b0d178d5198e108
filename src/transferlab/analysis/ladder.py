"""The fine-tuning ladder's part of summary.json: rung comparisons, effective data, break-even, forgetting.

Everything here is computed from the finished cells: per-seed accuracies (effective data),
per-example scores paired by seed and test example (rung comparisons and break-even, through
:func:`~transferlab.analysis.verdicts.compare_arms`), and the costs each cell recorded.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from transferlab.analysis.cells import (
    GAIN_RANGE,
    Arm,
    CellView,
    Scores,
    arm_scores,
    group_arms,
    paired_rows,
    strategy_name,
)
from transferlab.analysis.effective_data import ScratchCurve, break_even
from transferlab.analysis.verdicts import compare_arms
from transferlab.errors import InputError

CHEAP_RUNG = "linear-probe"
SCRATCH = "scratch"


def ladder_summary(
    cells: list[CellView], labels: np.ndarray, metric: str, confidence: float, min_effect: float
) -> dict[str, Any]:
    """The ``ladder`` key of summary.json (empty lists where a study has nothing to say)."""
    groups = group_arms(cells)
    scores = arm_scores(groups, labels, metric)
    return {
        "comparisons": rung_comparisons(groups, scores, confidence, min_effect, GAIN_RANGE[metric]),
        "effective_data": effective_data_rows(groups, len(labels), confidence),
        "break_even": break_even_rows(groups, scores, confidence, min_effect),
        "forgetting": forgetting_rows(groups),
    }


def _transfer_arms(groups: dict[Arm, list[CellView]]) -> dict[tuple[str, int], list[str]]:
    """{(source, budget): strategy labels} of the labelled transfer arms."""
    arms: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (source, strategy, budget), group in groups.items():
        if group[0].role == "transfer" and budget > 0:
            arms[(source, budget)].append(strategy)
    return arms


def _mean_cost(group: list[CellView], key: str) -> float:
    return float(np.mean([c.cost.get(key, 0.0) for c in group]))


def rung_comparisons(
    groups: dict[Arm, list[CellView]],
    scores: dict[Arm, Scores],
    confidence: float,
    min_effect: float,
    bounds: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    """Per source and budget: the cheapest rung against the most accurate other rung, paired.

    The cheapest rung trains the fewest parameters (ties: the name), a property of the method:
    fit seconds on a shared machine are noisy, and a summary must be a deterministic function of
    its cells. The challenger is the other rung with the highest mean score; because it was
    picked as the maximum of ``k`` noisy rungs, its interval is computed at confidence
    ``1 - alpha / k`` (Bonferroni over the rungs it was picked from), which keeps a claimed gain
    at the nominal rate whichever rung is picked. ``gain`` is challenger - cheapest.
    """
    rows = []
    for (source, budget), labels in sorted(_transfer_arms(groups).items()):
        if len(labels) < 2:
            continue
        arms = {s: groups[(source, s, budget)] for s in labels}
        cheap = min(labels, key=lambda s: (_mean_cost(arms[s], "trainable_params"), s))
        others = [s for s in labels if s != cheap]
        mean = {s: float(np.mean(np.stack(list(scores[(source, s, budget)].values())))) for s in labels}
        challenger = max(others, key=lambda s: (mean[s], s))
        rows_ = paired_rows(scores[(source, challenger, budget)], scores[(source, cheap, budget)])
        if rows_ is None:
            continue
        level = 1.0 - (1.0 - confidence) / len(others)
        gain = compare_arms(*rows_, confidence=level, min_effect=min_effect, bounds=bounds)
        rows.append(_comparison_row(source, budget, cheap, challenger, mean, gain, arms, len(others)))
    return rows


def _comparison_row(
    source: str,
    budget: int,
    cheap: str,
    challenger: str,
    mean: dict[str, float],
    gain: dict[str, Any],
    arms: dict[str, list[CellView]],
    n_picked_from: int,
) -> dict[str, Any]:
    params = {s: _mean_cost(arms[s], "trainable_params") for s in (cheap, challenger)}
    return {
        "source": source,
        "budget": budget,
        "cheap": cheap,
        "challenger": challenger,
        "cheap_mean": mean[cheap],
        "challenger_mean": mean[challenger],
        "gain": gain["gain"],
        "lo": gain["lo"],
        "hi": gain["hi"],
        "verdict": gain["verdict"],
        "confidence": gain["confidence"],
        "picked_from": n_picked_from,
        "n_seeds": gain["n_seeds"],
        "seed_variation_measured": gain["seed_variation_measured"],
        "trainable_params": params,
        "params_ratio": params[challenger] / params[cheap] if params[cheap] > 0 else None,
        "challenger_trains_backbone": arms[challenger][0].trains_backbone,
        "fit_seconds": {s: _mean_cost(arms[s], "fit_seconds") for s in (cheap, challenger)},
    }


def effective_data_rows(groups: dict[Arm, list[CellView]], n_test: int, confidence: float) -> list[dict[str, Any]]:
    """Effective data of every labelled transfer arm, against its own source's scratch curve."""
    accuracy: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(dict)
    for (source, strategy, budget), group in groups.items():
        if budget > 0:
            accuracy[(source, strategy)][budget] = [c.metrics["accuracy"] for c in group]
    rows: list[dict[str, Any]] = []
    for source in sorted({s for s, _ in accuracy}):
        scratch = next((v for (s, st), v in accuracy.items() if s == source and strategy_name(st) == SCRATCH), None)
        if scratch is None:
            continue
        try:
            curve = ScratchCurve(scratch, n_test=n_test)
        except (InputError, RuntimeError) as exc:
            rows.append({"source": source, "curve": None, "note": str(exc), "arms": {}})
            continue
        arms = {
            st: curve.effective_data(v, confidence)
            for (s, st), v in sorted(accuracy.items())
            if s == source and groups[(s, st, next(iter(v)))][0].role == "transfer"
        }
        fit = {"a": curve.fit.a, "b": curve.fit.b, "c": curve.fit.c, "n_min": curve.fit.n_min, "n_max": curve.fit.n_max}
        rows.append({"source": source, "curve": fit, "note": curve.note(), "scratch": scratch, "arms": arms})
    return rows


def break_even_rows(
    groups: dict[Arm, list[CellView]],
    scores: dict[Arm, Scores],
    confidence: float,
    min_effect: float,
) -> list[dict[str, Any]]:
    """Break-even of each backbone-training rung against the linear probe of the same source.

    The two rungs are paired by seed at each budget (the seeds both finished); a budget where
    they share no seed is left out and named in ``notes``, never dropped without a word.
    """
    by_arm: dict[tuple[str, str], dict[int, Scores]] = defaultdict(dict)
    trains: dict[tuple[str, str], bool] = {}
    for (source, strategy, budget), per_seed in scores.items():
        group = groups[(source, strategy, budget)]
        if budget > 0 and group[0].role == "transfer":
            by_arm[(source, strategy)][budget] = per_seed
            trains[(source, strategy)] = group[0].trains_backbone
    rows = []
    for (source, cheap), cheap_scores in sorted(by_arm.items()):
        if strategy_name(cheap) != CHEAP_RUNG:
            continue
        for (other, expensive), expensive_scores in sorted(by_arm.items()):
            if other == source and trains[(other, expensive)]:
                row = _break_even_row(cheap_scores, expensive_scores, confidence, min_effect)
                if row is not None:
                    rows.append({"source": source, "cheap": cheap, "expensive": expensive, **row})
    return rows


def _break_even_row(
    cheap: dict[int, Scores], expensive: dict[int, Scores], confidence: float, min_effect: float
) -> dict[str, Any] | None:
    paired: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    notes = []
    for budget in sorted(set(cheap) & set(expensive)):
        rows = paired_rows(expensive[budget], cheap[budget])
        if rows is None:
            notes.append(f"budget {budget} left out: the two rungs share no finished seed")
            continue
        paired[budget] = rows
        lost = set(cheap[budget]) ^ set(expensive[budget])
        if lost:
            notes.append(
                f"budget {budget} compared on {len(rows[0])} shared seeds (seeds {sorted(lost)} missing in one)"
            )
    if not paired:
        return None
    result = break_even(
        {b: r[1] for b, r in paired.items()}, {b: r[0] for b, r in paired.items()}, confidence, min_effect
    )
    return result | {"notes": notes}


def forgetting_rows(groups: dict[Arm, list[CellView]]) -> list[dict[str, Any]]:
    """Mean forgetting (held-out probe accuracy before - after) per arm that measured it."""
    rows = []
    for (source, strategy, budget), group in groups.items():
        values = [c.cost["forgetting"] for c in group if "forgetting" in c.cost]
        if values:
            rows.append(
                {
                    "source": source,
                    "strategy": strategy,
                    "budget": budget,
                    "forgetting": float(np.mean(values)),
                    "sd": float(np.std(values, ddof=1)) if len(values) > 1 else None,
                    "before": float(np.mean([c.cost["heldout_before"] for c in group if "heldout_before" in c.cost])),
                    "after": float(np.mean([c.cost["heldout_after"] for c in group if "heldout_after" in c.cost])),
                    "n_seeds": len(values),
                }
            )
    return rows
