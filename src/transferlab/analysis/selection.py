"""The ``validators`` block: choosing among adaptation methods without target labels, checked with them.

Every transfer cell of a domain study records each unsupervised validator's score
(``validator.<name>``, :mod:`transferlab.study.domain_cell`). For each *selection* (a source,
source budget, target budget and seed: the candidates are that source's transfer arms, which share
the budget sample), each validator picks the arm it scores highest; the hidden target test labels
then say which arm was best, so each pick is either the best or loses some accuracy against it.
Over a source's selections the block reports, per validator: what it picked, how often its pick
was the best (with a Wilson interval), and the mean accuracy it lost (with the study's two-way
interval, the selections standing in for seeds: their spread and the test examples' both count).
"always <reference>" (never adapting, the default choice) is scored the same way, so a validator
can be seen to beat doing nothing, or not.

Two cautions the report repeats: the best arm is chosen on the same test labels that score it,
so "lost" is measured against an optimistic oracle; and with few selections every interval is
wide, so the recommendation says when the data do not single out one validator.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from transferlab.analysis.cells import CellView
from transferlab.analysis.domain_arms import REFERENCE, split_target_label
from transferlab.analysis.intervals import paired_gain_interval
from transferlab.metrics.shift_inputs import wilson_interval
from transferlab.metrics.task import correct
from transferlab.metrics.validators import VALIDATORS, validator_picks

Selection = tuple[str, int, int, int]  # (source, budget, target budget, seed)


def validators_block(cells: list[CellView], labels: np.ndarray, confidence: float) -> dict[str, Any]:
    """Per source: each validator's picks, how often each was the best, and the accuracy it lost."""
    selections = _selections(cells)
    by_source: dict[str, list[Selection]] = defaultdict(list)
    for key in sorted(selections):
        by_source[key[0]].append(key)
    sources = [_source_entry(src, [selections[k] for k in keys], labels, confidence) for src, keys in by_source.items()]
    return {"validators": list(VALIDATORS), "confidence": confidence, "sources": sources}


def _selections(cells: list[CellView]) -> dict[Selection, list[CellView]]:
    """Transfer cells that carry validator scores, grouped into selections of two or more candidates."""
    groups: dict[Selection, list[CellView]] = defaultdict(list)
    for cell in cells:
        if cell.role == "transfer" and f"validator.{VALIDATORS[0]}" in cell.metrics:
            groups[(cell.source, cell.budget, split_target_label(cell.strategy)[1], cell.seed)].append(cell)
    return {k: sorted(v, key=_candidate_order) for k, v in groups.items() if len(v) >= 2}


def _candidate_order(cell: CellView) -> tuple[bool, str]:
    # the no-adaptation arm first: validator_picks gives ties to the first candidate
    return split_target_label(cell.strategy)[0] != REFERENCE, cell.strategy


def _source_entry(
    source: str, selections: list[list[CellView]], labels: np.ndarray, confidence: float
) -> dict[str, Any]:
    hits = [{c.strategy: correct(labels, c.proba) for c in group} for group in selections]  # per selection
    best = [_best(h) for h in hits]
    choosers: dict[str, list[str]] = {}
    for validator in VALIDATORS:
        scores = [{c.strategy: {validator: c.metrics[f"validator.{validator}"]} for c in g} for g in selections]
        choosers[validator] = [validator_picks(s)[validator] for s in scores]
    reference = [_reference(group) for group in selections]
    if all(r is not None for r in reference):
        choosers[f"always {REFERENCE}"] = [str(r) for r in reference]
    rows = [_row(name, picks, hits, best, confidence) for name, picks in choosers.items()]
    oracle = _counts(best)
    return {
        "source": source,
        "n_selections": len(selections),
        "candidates": sorted({c.strategy for g in selections for c in g}),
        "best_by_target_labels": oracle,
        "rows": rows,
        "recommendation": recommend(rows, len(selections)),
    }


def _best(hits: dict[str, np.ndarray]) -> str:
    """The arm with the highest target test accuracy (the first in order on a tie)."""
    accuracy = {arm: float(correct.mean()) for arm, correct in hits.items()}
    return max(accuracy, key=accuracy.__getitem__)


def _reference(group: list[CellView]) -> str | None:
    """The selection's no-adaptation arm (sorted first when present)."""
    return group[0].strategy if split_target_label(group[0].strategy)[0] == REFERENCE else None


def _row(
    name: str, picks: list[str], hits: list[dict[str, np.ndarray]], best: list[str], confidence: float
) -> dict[str, Any]:
    """One validator: its picks, the share that were best, and the accuracy lost against the best."""
    n = len(picks)
    lost = np.array([float(h[b].mean() - h[p].mean()) for h, b, p in zip(hits, best, picks, strict=True)])
    n_best = int(np.sum(lost <= 0.0))  # a pick tied with the best is the best
    best_rows = np.stack([h[b] for h, b in zip(hits, best, strict=True)]).astype(np.float64)  # (n, n_test)
    pick_rows = np.stack([h[p] for h, p in zip(hits, picks, strict=True)]).astype(np.float64)
    interval = paired_gain_interval(best_rows, pick_rows, confidence)
    share = wilson_interval(n_best, n, confidence)
    return {
        "validator": name,
        "picks": _counts(picks),
        "n_best": n_best,
        "n": n,
        "best_share": n_best / n,
        "best_share_lo": share[0],
        "best_share_hi": share[1],
        "lost": float(lost.mean()),
        "lost_lo": max(float(interval.lo), 0.0),
        "lost_hi": min(float(interval.hi), 1.0),
    }


def _counts(names: list[str]) -> dict[str, int]:
    found: dict[str, int] = defaultdict(int)
    for n in names:
        found[n] += 1
    return dict(sorted(found.items(), key=lambda kv: (-kv[1], kv[0])))


def recommend(rows: list[dict[str, Any]], n: int) -> str:
    """Which validator to trust on these data, in one sentence no stronger than the intervals allow."""
    validators = sorted((r for r in rows if r["validator"] in VALIDATORS), key=lambda r: (r["lost"], -r["n_best"]))
    if n < 3 or not validators:
        return f"Too few selections ({n}) to say which validator to trust: run more seeds or budgets."
    top, second = validators[0], validators[1] if len(validators) > 1 else None
    said = (
        f"{top['validator']} lost the least accuracy against the best arm by target labels"
        f" ({top['lost'] * 100:.1f} points, interval [{top['lost_lo'] * 100:.1f}, {top['lost_hi'] * 100:.1f}];"
        f" its pick was the best in {top['n_best']} of {n})"
    )
    if second is not None and second["lost_lo"] <= top["lost_hi"]:
        said += f", but its interval overlaps {second['validator']}'s, so these data do not single out one validator"
    default = next((r for r in rows if r["validator"] not in VALIDATORS), None)
    if default is not None:
        said += f"; it {_relation(top, default)} never adapting ({default['validator']}:"
        said += f" {default['lost'] * 100:.1f} points lost)"
    return said + ". Treat a pick as a hypothesis and check it on a few labelled target examples."


def _relation(row: dict[str, Any], default: dict[str, Any]) -> str:
    """How a validator's loss compares with never adapting: only separated intervals count as a difference."""
    if row["lost_hi"] < default["lost_lo"]:
        return "lost less than"
    if row["lost_lo"] > default["lost_hi"]:
        return "lost more than"
    return "could not be told apart from"
