"""The fine-tuning ladder's part of summary.json: rung comparisons, effective data, break-even, forgetting.

Everything here is computed from the finished cells: per-seed accuracies (effective data),
per-example scores paired by seed and test example (rung comparisons and break-even, through
:func:`~transferlab.analysis.verdicts.compare_arms`), and the costs each cell recorded.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from transferlab.analysis.effective_data import ScratchCurve, break_even
from transferlab.analysis.summary import GAIN_RANGE, CellView, group_arms, paired_rows, score_matrix
from transferlab.analysis.verdicts import compare_arms
from transferlab.errors import InputError

CHEAP_RUNG = "linear-probe"
SCRATCH = "scratch"


def strategy_name(label: str) -> str:
    """``finetune-top-k(k=2)`` -> ``finetune-top-k``."""
    return label.split("(", 1)[0]


def trains_backbone(label: str) -> bool:
    """Whether the strategy behind an arm label changes the source's weights."""
    from transferlab.strategies import STRATEGIES, load_builtin_strategies, strategy_class

    load_builtin_strategies()
    name = strategy_name(label)
    return STRATEGIES.is_known(name) and strategy_class(name).trains_backbone


def ladder_summary(
    cells: list[CellView], labels: np.ndarray, metric: str, confidence: float, min_effect: float
) -> dict[str, Any]:
    """The ``ladder`` key of summary.json (empty lists where a study has nothing to say)."""
    groups = group_arms(cells)
    scores = {k: score_matrix(v, labels, metric) for k, v in groups.items()}
    return {
        "comparisons": rung_comparisons(groups, scores, confidence, min_effect, GAIN_RANGE[metric]),
        "effective_data": effective_data_rows(groups, len(labels), confidence),
        "break_even": break_even_rows(groups, scores, confidence, min_effect),
        "forgetting": forgetting_rows(groups),
    }


def _transfer_arms(groups: dict[tuple[str, str, int], list[CellView]]) -> dict[tuple[str, int], list[str]]:
    """{(source, budget): strategy labels} of the labelled transfer arms."""
    arms: dict[tuple[str, int], list[str]] = defaultdict(list)
    for (source, strategy, budget), group in groups.items():
        if group[0].role == "transfer" and budget > 0:
            arms[(source, budget)].append(strategy)
    return arms


def _mean_cost(group: list[CellView], key: str) -> float:
    return float(np.mean([c.cost.get(key, 0.0) for c in group]))


def rung_comparisons(
    groups: dict[tuple[str, str, int], list[CellView]],
    scores: dict[tuple[str, str, int], dict[int, np.ndarray]],
    confidence: float,
    min_effect: float,
    bounds: tuple[float, float] | None = None,
) -> list[dict[str, Any]]:
    """Per source and budget: the cheapest rung against the most accurate other rung, paired.

    The cheapest rung trains the fewest parameters (ties: lower mean fit time): a property of
    the method, where fit seconds on a shared machine are noisy and leave out the cached
    embeddings a frozen-feature rung relies on. The challenger has the highest mean score among
    the others. ``gain`` is challenger - cheapest.
    """
    rows = []
    for (source, budget), labels in sorted(_transfer_arms(groups).items()):
        if len(labels) < 2:
            continue
        arms = {s: groups[(source, s, budget)] for s in labels}
        cheap = min(labels, key=lambda s: (_mean_cost(arms[s], "trainable_params"), _mean_cost(arms[s], "fit_seconds")))
        others = [s for s in labels if s != cheap]
        mean = {s: float(np.mean(np.stack(list(scores[(source, s, budget)].values())))) for s in labels}
        challenger = max(others, key=lambda s: mean[s])
        rows_ = paired_rows(scores[(source, challenger, budget)], scores[(source, cheap, budget)])
        if rows_ is None:
            continue
        gain = compare_arms(*rows_, confidence=confidence, min_effect=min_effect, bounds=bounds)
        cost = {s: _mean_cost(arms[s], "fit_seconds") for s in (cheap, challenger)}
        params = {s: _mean_cost(arms[s], "trainable_params") for s in (cheap, challenger)}
        rows.append(
            {
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
                "n_seeds": gain["n_seeds"],
                "seed_variation_measured": gain["seed_variation_measured"],
                "fit_seconds": cost,
                "trainable_params": params,
                "time_ratio": cost[challenger] / max(cost[cheap], 1e-9),
                "params_ratio": params[challenger] / params[cheap] if params[cheap] > 0 else None,
            }
        )
    return rows


def effective_data_rows(
    groups: dict[tuple[str, str, int], list[CellView]], n_test: int, confidence: float
) -> list[dict[str, Any]]:
    """Effective data of every labelled transfer arm, against its own source's scratch curve."""
    accuracy: dict[tuple[str, str], dict[int, list[float]]] = defaultdict(dict)
    for (source, strategy, budget), group in groups.items():
        if budget > 0:
            accuracy[(source, strategy)][budget] = [c.metrics["accuracy"] for c in group]
    rows = []
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
    groups: dict[tuple[str, str, int], list[CellView]],
    scores: dict[tuple[str, str, int], dict[int, np.ndarray]],
    confidence: float,
    min_effect: float,
) -> list[dict[str, Any]]:
    """Break-even of each backbone-training rung against the linear probe of the same source."""
    by_arm: dict[tuple[str, str], dict[int, np.ndarray]] = defaultdict(dict)
    for (source, strategy, budget), per_seed in scores.items():
        if budget > 0 and groups[(source, strategy, budget)][0].role == "transfer":
            seeds = sorted(per_seed)
            by_arm[(source, strategy)][budget] = np.stack([per_seed[s] for s in seeds])
    rows = []
    for (source, cheap), cheap_scores in sorted(by_arm.items()):
        if strategy_name(cheap) != CHEAP_RUNG:
            continue
        for (other_source, expensive), expensive_scores in sorted(by_arm.items()):
            if other_source != source or not trains_backbone(expensive):
                continue
            common = sorted(set(cheap_scores) & set(expensive_scores))
            paired = {b: cheap_scores[b] for b in common if cheap_scores[b].shape == expensive_scores[b].shape}
            if paired:
                result = break_even(paired, {b: expensive_scores[b] for b in paired}, confidence, min_effect)
                rows.append({"source": source, "cheap": cheap, "expensive": expensive, **result})
    return rows


def forgetting_rows(groups: dict[tuple[str, str, int], list[CellView]]) -> list[dict[str, Any]]:
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
