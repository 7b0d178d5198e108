"""summary.json from a study's finished cells: a deterministic function of the cells' results.

The summary is a list of named blocks computed in order, each from the study's results and the
blocks before it (``BLOCKS``). Adding an analysis is adding one function here and, for people,
one section in :mod:`transferlab.report.sections`. Blocks that need models or data (the
transferability scores, the shift statistics of a domain study) are computed once by the study
and handed in as ``StudyResults.extras``: the analysis never embeds, trains or loads data.
Nothing here reads a clock or the machine, so the same cells give a byte-identical summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transferlab.analysis.adaptation import adaptation_block
from transferlab.analysis.answer import decision_block
from transferlab.analysis.cells import CellView
from transferlab.analysis.cross_lingual import LanguageView, cross_lingual_block
from transferlab.analysis.decision import DEFAULT_MARGIN, Rules
from transferlab.analysis.entries import summarise
from transferlab.analysis.episodic import EpisodeView, episodic_block
from transferlab.analysis.health import health_block, learned_arms, mark_entries
from transferlab.analysis.label_equivalence import equivalence_rows
from transferlab.analysis.ladder import ladder_summary
from transferlab.analysis.names import short_names
from transferlab.analysis.recommend import recommend
from transferlab.analysis.selection import validators_block
from transferlab.analysis.zero_shot import zero_shot_block


@dataclass(frozen=True)
class StudyResults:
    """Everything the summary is computed from."""

    study: str
    task: dict[str, Any]  # dataset, n_train_pool, n_test, classes, modality
    labels: np.ndarray  # (n_test,) integer test labels
    cells: list[CellView]
    budgets: list[int]
    seeds: list[int]
    primary_metric: str = "accuracy"
    confidence: float = 0.95
    min_effect: float = 0.0
    equivalence_margin: float = DEFAULT_MARGIN
    failed: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, dict[str, Any]] = field(default_factory=dict)  # arm label -> {name, params}
    extras: dict[str, Any] = field(default_factory=dict)  # blocks computed by the study (with models)
    episodes: list[EpisodeView] = field(default_factory=list)  # episodic cells (spec `evaluation`)
    evaluation: dict[str, Any] = field(default_factory=dict)  # the episodes' n_way, queries, episodes
    class_splits: dict[int, list[int]] = field(default_factory=dict)  # seed -> unseen class indices
    languages: LanguageView | None = None  # a cross-lingual study's languages and source test set

    @property
    def rules(self) -> Rules:
        bounds = (-1.0, 1.0) if self.primary_metric == "accuracy" else (-np.inf, np.inf)
        return Rules(self.confidence, self.min_effect, self.equivalence_margin, bounds)


Block = Callable[[StudyResults, dict[str, Any]], Any]


def _entries(r: StudyResults, s: dict[str, Any]) -> Any:
    return summarise(r.cells, r.labels, r.budgets, r.primary_metric, r.confidence, r.min_effect)


def _health(r: StudyResults, s: dict[str, Any]) -> Any:
    block = health_block(r.cells, r.labels, len(r.task["classes"]), r.confidence)
    mark_entries(s["entries"], block)
    return block


def _decision(r: StudyResults, s: dict[str, Any]) -> Any:
    learned = learned_arms(s["health"])
    return decision_block(r.cells, r.labels, r.budgets, r.primary_metric, r.rules, learned, s["names"]["short"])


def _ladder(r: StudyResults, s: dict[str, Any]) -> Any:
    return ladder_summary(r.cells, r.labels, r.primary_metric, r.confidence, r.min_effect)


def _label_equivalence(r: StudyResults, s: dict[str, Any]) -> Any:
    return equivalence_rows(r.cells, r.labels, learned_arms(s["health"]), r.confidence)


def _recommendations(r: StudyResults, s: dict[str, Any]) -> Any:
    return recommend(s, r.equivalence_margin)


def _headline(r: StudyResults, s: dict[str, Any]) -> Any:
    return headline_counts(s["entries"])


def _adaptation(r: StudyResults, s: dict[str, Any]) -> Any:
    # domain studies only: the task says which domains it compares (transferlab.study.domain_cell)
    if "domains" not in r.task:
        return None
    return adaptation_block(r.cells, r.labels, r.confidence, r.min_effect, s["health"])


def _validators(r: StudyResults, s: dict[str, Any]) -> Any:
    return validators_block(r.cells, r.labels, r.confidence) if "domains" in r.task else None


def _episodic(r: StudyResults, s: dict[str, Any]) -> Any:
    return episodic_block(r.episodes, r.evaluation, r.confidence, r.min_effect)


def _cross_lingual(r: StudyResults, s: dict[str, Any]) -> Any:
    if r.languages is None:
        return None
    return cross_lingual_block(r.cells, r.labels, r.languages, r.confidence, r.min_effect, learned_arms(s["health"]))


def _zero_shot(r: StudyResults, s: dict[str, Any]) -> Any:
    return zero_shot_block(r.cells, r.labels, r.class_splits, r.task["classes"], r.confidence, r.min_effect)


BLOCKS: tuple[tuple[str, Block], ...] = (
    ("names", lambda r, s: short_names(r.params)),
    ("entries", _entries),
    ("health", _health),
    ("headline", _headline),
    ("decision", _decision),
    ("ladder", _ladder),
    ("label_equivalence", _label_equivalence),
    ("recommendations", _recommendations),
    ("adaptation", _adaptation),
    ("validators", _validators),
    ("cross_lingual", _cross_lingual),
    ("episodic", _episodic),
    ("zero_shot", _zero_shot),
)


def build_summary(results: StudyResults) -> dict[str, Any]:
    """The content of summary.json."""
    summary: dict[str, Any] = {
        "study": results.study,
        "task": results.task,
        "primary_metric": results.primary_metric,
        "confidence": results.confidence,
        "min_effect": results.min_effect,
        "equivalence_margin": results.equivalence_margin,
        "budgets": results.budgets,
        "seeds": results.seeds,
    }
    for name, block in BLOCKS:
        summary[name] = block(results, summary)
    summary |= results.extras
    summary["failed"] = results.failed
    summary["notes"] = results.notes
    return summary


def headline_counts(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """Verdict counts of transfer arms against baselines that learned, and how many were left out."""
    counts = {"positive": 0, "negative": 0, "inconclusive": 0}
    excluded = 0
    for e in entries:
        if e["role"] != "transfer":
            continue
        for g in e["gains"].values():
            if g.get("baseline_learned", True):
                counts[g["verdict"]] += 1
            else:
                excluded += 1
    return counts | {"excluded_not_learned": excluded}
