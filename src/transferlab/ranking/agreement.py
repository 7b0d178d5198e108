"""Does a ranking agree with what transfer really achieved? Against a study's measured outcomes.

A source's *outcome* is its best mean test accuracy, at the study's largest label budget, over
the linear probe and every fine-tuning strategy the study ran (a transfer strategy that trains
the backbone). Each score's ranking (and the consensus) is compared with the outcomes by Kendall's
tau, weighted tau (LogME's measure: swaps near the top count most) and whether its top source
has the best outcome (:mod:`transferlab.analysis.rank_agreement`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from transferlab.analysis.rank_agreement import kendall_tau, top1_hit, weighted_tau
from transferlab.errors import InputError
from transferlab.ranking.rank import RankResult, rank_sources
from transferlab.sources.base import Source
from transferlab.sources.cache import EmbeddingCache

PROBE = "linear-probe"


def outcome_strategy(label: str, role: str | None) -> bool:
    """True for the linear probe and for transfer strategies that fine-tune the backbone."""
    from transferlab.strategies import STRATEGIES, strategy_class

    name = label.split("(", 1)[0]
    if name == PROBE:
        return True
    if role == "baseline" or not STRATEGIES.is_known(name):
        return False
    cls = strategy_class(name)
    return bool(cls.trains_backbone and not cls.is_baseline)


def study_outcomes(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-source outcome (best accuracy of probe / fine-tuning at the largest budget) from summary entries.

    Returns ``{"budget": int, "strategies": [...], "outcomes": {source: accuracy}, "by": {source: strategy}}``.
    """
    usable = [
        e for e in entries if outcome_strategy(e["strategy"], e.get("role")) and e.get("labels_used") == e["budget"]
    ]
    if not usable:
        raise InputError(
            "validate: the study has no linear-probe or fine-tuning results; fix: run a study whose"
            " strategies include linear-probe"
        )
    budget = max(e["budget"] for e in usable)
    outcomes: dict[str, float] = {}
    best_by: dict[str, str] = {}
    for e in (e for e in usable if e["budget"] == budget):
        accuracy = float(e.get("metrics", {}).get("accuracy", e["mean"]))
        if accuracy > outcomes.get(e["source"], -math.inf):
            outcomes[e["source"]], best_by[e["source"]] = accuracy, e["strategy"]
    strategies = sorted({e["strategy"] for e in usable if e["budget"] == budget})
    return {"budget": budget, "strategies": strategies, "outcomes": outcomes, "by": best_by}


def agreement(result: RankResult, outcomes: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """Kendall tau, weighted tau and top-1 hit of each score (and the consensus) against ``outcomes``.

    Only candidates that have an outcome take part; a score needs at least two of them.
    """
    table = {}
    for metric in [*result.metrics, "consensus"]:
        scores = {c: v for c, v in result.scores(metric).items() if c in outcomes}
        if len(scores) < 2:
            table[metric] = {"n": len(scores), "kendall_tau": None, "weighted_tau": None, "top1_hit": None}
            continue
        truth = {c: outcomes[c] for c in scores}
        table[metric] = {
            "n": len(scores),
            "kendall_tau": _finite_or_none(kendall_tau(scores, truth)),
            "weighted_tau": _finite_or_none(weighted_tau(scores, truth)),
            "top1_hit": top1_hit(scores, truth),
        }
    return table


def read_summary(run_dir: str | Path) -> dict[str, Any]:
    """A run directory's summary.json, or one clear error."""
    path = Path(run_dir) / "summary.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"validate: {str(run_dir)!r} has no summary.json; fix: give a run directory written by `transferlab run`"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"validate: {path} is not readable JSON ({exc}); fix: rebuild it with `transferlab report`"
        ) from None


def validate_ranking(result: RankResult, run_dir: str | Path) -> dict[str, Any]:
    """Agreement of ``result`` with the outcomes a study measured (its ``summary.json``).

    Returns
    -------
    dict
        ``run_dir``, ``budget`` (the largest), ``strategies`` counted as outcomes, ``outcomes``
        per source, ``sources`` compared, and ``metrics``: ``{metric: {n, kendall_tau,
        weighted_tau, top1_hit}}`` including ``"consensus"``.
    """
    found = study_outcomes(read_summary(run_dir).get("entries", []))
    outcomes = found["outcomes"]
    common = sorted(set(outcomes) & {r.candidate for r in result.rows})
    if len(common) < 2:
        raise InputError(
            f"validate: need at least 2 sources both ranked and in the study; the study has "
            f"{sorted(outcomes)}, the ranking has {[r.candidate for r in result.rows]}; fix: rank the study's sources"
        )
    return {
        "run_dir": str(run_dir),
        "budget": found["budget"],
        "strategies": found["strategies"],
        "outcomes": outcomes,
        "sources": common,
        "metrics": agreement(result, outcomes),
    }


def study_transferability(
    spec: Any,
    split: Any,
    entries: list[dict[str, Any]],
    n_boot: int = 20,
    cache: EmbeddingCache | None = None,
    sources: dict[str, Source] | None = None,
) -> dict[str, Any]:
    """The ``transferability`` block of a study's summary.json.

    The scores the spec asks for, computed for each of its sources on the whole training pool of
    the task (every example a budget could draw; no test example), and their agreement with the
    study's own outcomes. Bad input or a failing source is reported in the block, not raised: the
    study's results are already written and must not be lost to the add-on. ``cache`` and
    ``sources`` are the run's own (its embedding cache and built sources), when it has them.
    """
    from transferlab.sources import create_source

    try:
        if sources is None:
            sources = {arm.label: create_source(arm.name, **arm.params) for arm in spec.sources}
        result = rank_sources(split.train, sources, spec.transferability, n_boot=n_boot, cache=cache)
    except InputError as exc:
        return {"metrics": list(spec.transferability), "error": str(exc)}
    block: dict[str, Any] = {"computed_on": "training pool", **result.to_dict()}
    try:
        found = study_outcomes(entries)
    except InputError as exc:
        return block | {"agreement": None, "agreement_note": str(exc)}
    return block | {
        "outcome_budget": found["budget"],
        "outcome_strategies": found["strategies"],
        "outcomes": found["outcomes"],
        "agreement": agreement(result, found["outcomes"]),
    }


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None
