"""The ``cross_lingual`` block: the transfer matrix, the transfer gaps and label equivalence across languages.

A cross-lingual study is a domain study whose domains are languages. For each source (encoder)
and source budget ``B`` the **transfer matrix** has one row per training set and one column per
language's test set, each cell an accuracy with the study's two-way interval (seeds and test
examples, :func:`~transferlab.analysis.intervals.mean_interval`):

* row ``en`` (B labels): the probe (``source-only``, or ``linear-probe`` when the study has no
  ``source-only``) trained on ``B`` source-language examples;
* row ``sl`` (T labels): ``target-only +T target``, the same probe trained on ``T`` labelled
  target-language examples alone, for every target budget ``T > 0``;
* row ``en+sl``: the probe trained on both (``source-only +T target``).

Columns: the source-language test set (the source examples held out of the budgets, which every
cell of a cross-lingual study also predicts) and the target test set, split by language.

Two **transfer gaps**, both "same language minus cross language" (positive: crossing the
language costs accuracy), each with an interval and a verdict:

* *of a model*: one row's accuracy on its own language's test set minus on the other's (the
  transfer gap of XTREME, Hu et al. 2020). Two test sets, one set of models: paired by seed
  only (:mod:`~transferlab.analysis.two_test_sets`);
* *on a test set*: on one language's test set, the row trained in that language minus the row
  trained in the other, paired by seed and test example (:func:`~transferlab.analysis.verdicts.compare_arms`).

**Label equivalence**: every transfer arm trained without target labels, read off the
``target-only`` curve (its accuracy at each target budget) with the curve reading and bootstrap of
:mod:`~transferlab.analysis.label_equivalence`: "e5's probe on 120 English labels is worth about
40 Slovenian labels [25, 70]". The multilingual sources and the controls are compared in
:mod:`~transferlab.analysis.multilinguality`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from transferlab.analysis.cells import Arm, CellView, Scores, group_arms
from transferlab.analysis.domain_arms import split_target_label, with_target
from transferlab.analysis.intervals import mean_interval
from transferlab.analysis.label_equivalence import curve_equivalence, equivalence_text
from transferlab.analysis.multilinguality import multilinguality_block
from transferlab.analysis.two_test_sets import compare_two_sets
from transferlab.analysis.verdicts import compare_arms
from transferlab.metrics.task import correct

PROBES = ("source-only", "linear-probe")  # the matrix's source-language row, in order of preference
TARGET_ONLY = "target-only"


@dataclass(frozen=True)
class LanguageView:
    """What a cross-lingual study adds to its cells: languages, and the source-language test set."""

    source_languages: tuple[str, ...]
    target_languages: tuple[str, ...]
    test_languages: np.ndarray  # (n_test,) language of each target test example
    source_test_labels: np.ndarray  # (n_source_test,)
    source_test_languages: np.ndarray  # (n_source_test,)
    coverage: dict[str, tuple[str, ...] | None]  # source label -> languages it was trained on (None: not declared)
    label_map: dict[str, str | None] | None = None


@dataclass(frozen=True)
class Sides:
    """Per-seed hits of one arm on the target test set and on the source test set ({seed: (n,)})."""

    target: Scores
    source: Scores


def cross_lingual_block(
    cells: list[CellView],
    labels: np.ndarray,
    view: LanguageView,
    confidence: float,
    min_effect: float,
    learned: set[Arm],
) -> dict[str, Any]:
    """The block (see the module docstring); notes say what a study lacks for a part of it."""
    groups = group_arms(cells)
    hits = {arm: _sides(group, labels, view) for arm, group in groups.items()}
    probe = next((p for p in PROBES if any(a[1] == p for a in groups)), None)
    targets = sorted({split_target_label(a[1])[1] for a in groups if split_target_label(a[1])[0] == TARGET_ONLY})
    targets = [t for t in targets if t > 0]
    sources = sorted({a[0] for a in groups if a[0] != "none"})
    settings = (confidence, min_effect)
    entries = [_source_entry(s, groups, hits, probe, targets, view, settings, learned) for s in sources]
    return {
        "metric": "accuracy",
        "confidence": confidence,
        "min_effect": min_effect,
        "source_languages": list(view.source_languages),
        "target_languages": list(view.target_languages),
        "n_test": _test_sizes(view),
        "probe": probe,
        "target_budgets": targets,
        "label_map": view.label_map,
        "sources": entries,
        "multilinguality": multilinguality_block(hits, probe, view, confidence, min_effect),
        "notes": _notes(probe, targets, hits),
    }


def _sides(group: list[CellView], labels: np.ndarray, view: LanguageView) -> Sides:
    target = {c.seed: correct(labels, c.proba) for c in group}
    source = {c.seed: correct(view.source_test_labels, c.source_proba) for c in group if c.source_proba is not None}
    return Sides(target, source)


def _test_sizes(view: LanguageView) -> dict[str, int]:
    counts = {str(k): int(v) for k, v in zip(*np.unique(view.source_test_languages, return_counts=True), strict=True)}
    return counts | {str(k): int(v) for k, v in zip(*np.unique(view.test_languages, return_counts=True), strict=True)}


def _source_entry(
    source: str,
    groups: dict[Arm, list[CellView]],
    hits: dict[Arm, Sides],
    probe: str | None,
    targets: list[int],
    view: LanguageView,
    settings: tuple[float, float],
    learned: set[Arm],
) -> dict[str, Any]:
    budgets = sorted({a[2] for a in groups if a[0] == source and a[1] == probe})
    matrices = [_matrix(source, b, hits, probe, targets, view, settings) for b in budgets if probe]
    return {
        "source": source,
        "languages": None if view.coverage.get(source) is None else list(view.coverage[source] or ()),
        "matrices": matrices,
        "equivalence": _equivalence(source, groups, hits, targets, settings[0], learned),
    }


def _matrix(
    source: str,
    budget: int,
    hits: dict[Arm, Sides],
    probe: Any,
    targets: list[int],
    view: LanguageView,
    settings: tuple[float, float],
) -> dict[str, Any]:
    """One (source, budget) matrix: its rows' accuracies per language, and the two kinds of gap."""
    src, tgt = "+".join(view.source_languages), "+".join(view.target_languages)
    rows = [("source", f"{budget} {src}", (source, probe, budget))]
    rows += [("target", f"{t} {tgt}", (source, with_target(TARGET_ONLY, t), budget)) for t in targets]
    rows += [("both", f"{budget} {src} + {t} {tgt}", (source, with_target(probe, t), budget)) for t in targets]
    shown = [
        {"side": side, "labels": text, "arm": arm[1], "cells": _row_cells(hits[arm], view, settings[0])}
        for side, text, arm in rows
        if arm in hits
    ]
    (_, probe_text, probe_arm), target_rows = rows[0], rows[1 : 1 + len(targets)]
    gaps = _model_gap(hits.get(probe_arm), probe_text, src, tgt, True, settings)
    for _, text, arm in target_rows:
        gaps += _model_gap(hits.get(arm), text, tgt, src, False, settings)
    for _, text, arm in target_rows:
        if probe_arm in hits and arm in hits:
            gaps += _test_set_gaps(hits[probe_arm], hits[arm], probe_text, text, src, tgt, settings)
    return {"budget": budget, "columns": [*view.source_languages, *view.target_languages], "rows": shown, "gaps": gaps}


def _row_cells(sides: Sides, view: LanguageView, confidence: float) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    for scores, languages in ((sides.source, view.source_test_languages), (sides.target, view.test_languages)):
        for language in sorted(set(languages.tolist())):
            mask = languages == language
            cells[str(language)] = _accuracy(scores, mask, confidence) if scores and mask.sum() >= 2 else None
    return cells


def _accuracy(scores: Scores, mask: np.ndarray, confidence: float) -> dict[str, Any]:
    matrix = np.stack([scores[s][mask] for s in sorted(scores)])  # (S, n_language)
    interval = mean_interval(matrix, confidence)
    return {"accuracy": float(matrix.mean()), "lo": max(interval.lo, 0.0), "hi": min(interval.hi, 1.0)}


def _test_set_gaps(
    probe: Sides,
    target_only: Sides,
    probe_text: str,
    target_text: str,
    src: str,
    tgt: str,
    settings: tuple[float, float],
) -> list[dict[str, Any]]:
    """On each language's test set: the row trained in that language minus the row trained in the other."""
    gaps = []
    for test, same, cross, same_text, cross_text in (
        (tgt, target_only.target, probe.target, target_text, probe_text),
        (src, probe.source, target_only.source, probe_text, target_text),
    ):
        seeds = sorted(set(same) & set(cross))
        if seeds:
            a, b = np.stack([same[s] for s in seeds]), np.stack([cross[s] for s in seeds])
            gap = compare_arms(a, b, confidence=settings[0], min_effect=settings[1], bounds=(-1.0, 1.0))
            text = f"on the {test} test set: trained on {same_text} minus on {cross_text}"
            gaps.append({"kind": "test set", "test": test, "text": text, "gap": gap})
    return gaps


def _model_gap(
    sides: Sides | None, text: str, own: str, other: str, own_is_source: bool, settings: tuple[float, float]
) -> list[dict[str, Any]]:
    """One row's accuracy on its own language's test set minus on the other's (paired by seed only)."""
    if sides is None:
        return []
    mine, theirs = (sides.source, sides.target) if own_is_source else (sides.target, sides.source)
    seeds = sorted(set(mine) & set(theirs))
    if not seeds:
        return []
    a, b = np.stack([mine[s] for s in seeds]), np.stack([theirs[s] for s in seeds])
    gap = compare_two_sets(a, b, confidence=settings[0], min_effect=settings[1])
    return [{"kind": "model", "train": text, "text": f"trained on {text}: {own} test minus {other} test", "gap": gap}]


def _equivalence(
    source: str,
    groups: dict[Arm, list[CellView]],
    hits: dict[Arm, Sides],
    targets: list[int],
    confidence: float,
    learned: set[Arm],
) -> dict[str, Any] | None:
    """Each transfer arm without target labels, priced in target labels on the ``target-only`` curve."""
    if not targets:
        return None
    curve_arms = [a for a in groups if a[0] == source and split_target_label(a[1])[0] == TARGET_ONLY]
    if not curve_arms:
        return None
    # a target-only curve that is flat at chance or the majority rate at its largest budget prices
    # nothing: every arm above it would read "more than" the largest budget, and every arm below
    # "fewer than" the smallest, whatever it is worth
    top = [a for a in curve_arms if split_target_label(a[1])[1] == max(targets)]
    priced = bool(top) and all(a in learned for a in top)
    rows, rng = [], np.random.default_rng(0)
    for arm, group in groups.items():
        if arm[0] != source or group[0].role != "transfer" or split_target_label(arm[1])[1] > 0:
            continue
        # target-only is fitted on the target labels alone, so its cells at any source budget are the same
        # model: a label-free arm (budget 0) is read off the curve of the smallest budget
        at = arm[2] if group[0].needs_labels else min(a[2] for a in curve_arms)
        curve = {t: hits.get((source, with_target(TARGET_ONLY, t), at)) for t in targets}
        if any(c is None for c in curve.values()) or not hits[arm].target:
            continue
        seeds = sorted(set.intersection(*(set(c.target) for c in curve.values() if c is not None)))
        arm_hits = hits[arm].target
        if group[0].needs_labels:
            seeds = [s for s in seeds if s in arm_hits]
        if not seeds:
            continue
        arm_rows = np.stack([arm_hits[s] if s in arm_hits else next(iter(arm_hits.values())) for s in seeds])
        base_rows = np.stack([np.stack([curve[t].target[s] for s in seeds]) for t in targets])  # type: ignore[union-attr]
        row = {"strategy": arm[1], "budget": arm[2]}
        row |= curve_equivalence(arm_rows, base_rows, np.array(targets, dtype=float), confidence, rng)
        text = equivalence_text(row, targets) if priced else NOT_PRICED.format(top=max(targets))
        rows.append(row | {"priced": priced, "text": text})
    curve_learned = all(a in learned for a in curve_arms)
    return {"curve": TARGET_ONLY, "target_budgets": targets, "curve_learned": curve_learned, "rows": rows}


NOT_PRICED = (
    "not priced in target labels: the target-only probe did not learn even at {top} target labels"
    " (its accuracy interval reaches chance or the majority rate), so its curve cannot price anything"
)


def _notes(probe: str | None, targets: list[int], hits: dict[Arm, Sides]) -> list[str]:
    notes = []
    if probe is None:
        notes.append("no transfer matrix: add source-only (or linear-probe) to the strategies")
    if not targets:
        notes.append(
            "no target-language row, same-test-set gap or label equivalence: add the target-only baseline"
            " and target_budgets with a value > 0"
        )
    if any(h.target and not h.source for h in hits.values()):
        notes.append("some cells hold no predictions on the source-language test set (run before this was recorded)")
    return notes
