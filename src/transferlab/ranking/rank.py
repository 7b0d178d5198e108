"""Rank candidate sources (and their layers) for a target task with transferability scores.

:func:`rank_sources` embeds the task once per (source, layer) through the embedding cache, computes
every requested score on the frozen features, a paired stratified bootstrap per score (the same
resampled examples for every candidate, :mod:`transferlab.metrics.uncertainty`), and a consensus:
the mean over scores of each candidate's rank. ``P(best)`` is how often a candidate comes first
in the consensus of one bootstrap replicate: the probability that the top of the ranking would
stay on top with another sample of the same size from the same task.

The replicates are recentred on the full-sample score before they are compared. Resampling with
replacement duplicates examples, and that shifts some scores by more than their spread, by a
different amount per source: on 150 BBC articles LogME's replicates of minilm-l6 (384-d, n < d)
rose far more than those of glove-50d (50-d), so raw replicates put minilm-l6 first in every one
of them although glove-50d has the higher LogME. The spread, not that shift, is the uncertainty.

LEEP and NCE read the source's own classifier (``has_classifier``, e.g. EfficientNet's ImageNet
head), and only for the candidate that is the whole network (its default layer); the other
candidates have no value for them. N-LEEP, a Gaussian mixture in place of the classifier, scores
every candidate. The consensus uses the scores every candidate has.

The (candidate, score) pairs are computed by :mod:`transferlab.ranking.scoring`, on one BLAS
thread each, and in worker processes when ``n_jobs > 1`` (the numbers do not change).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from transferlab.data.task import TaskData
from transferlab.errors import InputError, bad_parameter
from transferlab.metrics.base import Metric, get_metric, list_metrics
from transferlab.metrics.transfer_inputs import check_transfer_inputs
from transferlab.ranking.layers import SourceView, cache_key_layer, prefill_layers
from transferlab.ranking.scoring import resolve_jobs, score_pairs
from transferlab.sources import SOURCES, Source, create_source, load_builtin_sources
from transferlab.sources.cache import EmbeddingCache

# hscore-raw is left out by default: without shrinkage it explodes when n_samples is not much
# larger than n_features, which is the usual case here; hscore is its regularised form.
NOT_DEFAULT = ("hscore-raw",)
# Separates a source from one of its inner layers in a candidate's label: ``minilm-l6@layer-3``.
LAYER_SEP = "@"
Layers = str | Sequence[str]


def default_metrics() -> list[str]:
    """Every registered transferability score except the unregularised H-score."""
    return [m for m in list_metrics("transferability") if m not in NOT_DEFAULT]


@dataclass
class RankRow:
    """One candidate (a source at one layer): its scores, spreads, ranks and cost."""

    candidate: str
    source: str
    layer: str
    dim: int
    scores: dict[str, float | None]
    std: dict[str, float | None]
    prob_best: dict[str, float | None]
    mean_rank: float | None = None
    rank: int | None = None
    p_best: float | None = None
    embed_seconds: float = 0.0
    score_seconds: float = 0.0


@dataclass
class RankResult:
    """What :func:`rank_sources` found; ``rows`` are in consensus order, best first."""

    task: str
    n_examples: int
    n_classes: int
    metrics: list[str]
    consensus_metrics: list[str]
    n_boot: int
    rows: list[RankRow]
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)

    def scores(self, metric: str) -> dict[str, float]:
        """``{candidate: score}`` for one metric, or ``"consensus"`` (minus the mean rank)."""
        if metric == "consensus":
            return {r.candidate: -r.mean_rank for r in self.rows if r.mean_rank is not None}
        return {r.candidate: v for r in self.rows if (v := r.scores.get(metric)) is not None}

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (NaN written as null)."""
        return _finite(asdict(self))

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def to_frame(self) -> Any:
        """One row per candidate: scores, ``<metric>_std``, ``p_best_<metric>``, ranks and seconds."""
        import pandas as pd

        records = []
        for r in self.rows:
            record: dict[str, Any] = {"candidate": r.candidate, "source": r.source, "layer": r.layer, "dim": r.dim}
            for m in self.metrics:
                record |= {m: r.scores.get(m), f"{m}_std": r.std.get(m), f"p_best_{m}": r.prob_best.get(m)}
            record |= {"mean_rank": r.mean_rank, "rank": r.rank, "p_best": r.p_best}
            records.append(record | {"embed_seconds": r.embed_seconds, "score_seconds": r.score_seconds})
        return pd.DataFrame.from_records(records)


@dataclass(frozen=True)
class Candidate:
    """A source at one layer, with what the cache and the metrics need to know about it."""

    label: str
    source_label: str
    source: Source
    layer: str  # as shown: "last" or a layer name
    cache_layer: str | None  # as given to the cache: None for the default layer

    @property
    def is_whole_network(self) -> bool:
        return self.cache_layer is None


class ClassifierView(SourceView):
    """The source's classifier probabilities as an 'embedding', so they are cached like one."""

    @property
    def dim(self) -> int:
        return 0

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        return self.source.classify(inputs)  # type: ignore[attr-defined]  (n, n_source_classes)


# ---------------------------------------------------------------- checks at the boundary


def resolve_sources(
    sources: Sequence[str | Source] | Mapping[str, Source], task: TaskData | None = None
) -> dict[str, Source]:
    """``{label: Source}`` from names, built sources or an already labelled mapping.

    Names are checked before any model loads: unknown ones, and (given ``task``) builtin ones
    whose modality, read from their :class:`SourceInfo`, does not match the task's.
    """
    from transferlab.sources.zoo_text import INFO

    if isinstance(sources, Mapping):
        resolved = dict(sources)
    else:
        items = [sources] if isinstance(sources, str | Source) else list(sources)
        labels = [s if isinstance(s, str) else s.name for s in items]
        if len(set(labels)) != len(labels):
            raise InputError(f"rank: each source once, found duplicates in {labels}; fix: remove the repeats")
        load_builtin_sources()
        for name in labels:
            if name not in SOURCES:
                raise InputError(
                    f"rank: unknown source {name!r}; known sources: {', '.join(SOURCES.names())}"
                    " (see `transferlab sources`)"
                )
            if task is not None and name in INFO and INFO[name].modality != task.modality:
                raise modality_error(name, INFO[name].modality, task)
        resolved = {
            label: create_source(s) if isinstance(s, str) else s for label, s in zip(labels, items, strict=True)
        }
    if not resolved:
        raise InputError("rank: expected at least one source, found none; fix: pass --sources a,b,c")
    return resolved


def resolve_metrics(metrics: Sequence[str] | None) -> list[Metric]:
    """The requested transferability metrics (all but ``NOT_DEFAULT`` when ``None``)."""
    names = default_metrics() if metrics is None else list(dict.fromkeys(metrics))
    if not names:
        raise InputError("rank: expected at least one metric, found none; fix: omit --metrics for all of them")
    resolved = [get_metric(n) for n in names]
    for metric in resolved:
        if metric.kind != "transferability":
            known = ", ".join(list_metrics("transferability"))
            raise InputError(
                f"rank: {metric.name!r} is a {metric.kind} metric, not a transferability score; use {known}"
            )
    return resolved


def resolve_layers(label: str, source: Source, layers: Layers | Mapping[str, Layers]) -> list[str]:
    """Layer names to rank for one source: ``"last"``, ``"all"``, an explicit list, or per source.

    A mapping gives each source label its own choice (absent labels: ``"last"``).
    """
    if isinstance(layers, Mapping):
        layers = layers.get(label, "last")
    names = source.layers()
    if layers == "last":
        return ["last"]
    if layers == "all":
        return names if len(names) > 1 else ["last"]
    if isinstance(layers, str):
        raise bad_parameter("rank", "layers", layers, "'last', 'all' or a list of layer names")
    unknown = [layer for layer in layers if layer != "last" and layer not in names]
    if unknown:
        raise InputError(
            f"rank: source {label!r} has no layer {unknown[0]!r}; its layers are {', '.join(names)} (or 'last')"
        )
    return list(dict.fromkeys(layers))


def check_labels(task: TaskData) -> None:
    """Labels fit for scoring: 2+ classes, 2+ examples each (checked before any model loads)."""
    if not isinstance(task, TaskData):
        raise InputError(f"rank: expected a TaskData (see transferlab.data.load_task), found {type(task).__name__}")
    check_transfer_inputs("rank", np.zeros((len(task), 1)), task.labels)


def check_modality(task: TaskData, sources: Mapping[str, Source]) -> None:
    """Every source embeds the task's kind of input."""
    for label, source in sources.items():
        if source.modality != task.modality:
            raise modality_error(label, source.modality, task)


def modality_error(label: str, modality: str, task: TaskData) -> InputError:
    return InputError(
        f"rank: source {label!r} embeds {modality} inputs but task {task.name!r} holds "
        f"{task.modality} examples; fix: rank {task.modality} sources on this task"
    )


# ---------------------------------------------------------------- ranking


def rank_sources(
    task: TaskData,
    sources: Sequence[str | Source] | Mapping[str, Source],
    metrics: Sequence[str] | None = None,
    layers: Layers | Mapping[str, Layers] = "last",
    n_boot: int = 10,
    cache: EmbeddingCache | None = None,
    random_state: int = 0,
    n_jobs: int | None = None,
) -> RankResult:
    """Score and rank candidate sources (and layers) for ``task`` before fine-tuning any.

    Parameters
    ----------
    task : TaskData
        The labelled target examples (subsample large tasks first: every score sees them all).
    sources : list of names or Source objects, or a mapping ``{label: Source}``
    metrics : list of str, optional
        Registered transferability scores; default :func:`default_metrics`.
    layers : "last", "all", list of str, or a mapping from source label to one of those
        Which layers of each source to rank ("all" lists ``source.layers()``).
    n_boot : int
        Paired bootstrap replicates per score (0: no spread and no P(best)). 10 by default:
        against 20, the ± figures' median relative error grows from 11% to 16% and P(best)
        moves by 0.01 on average (``benchmarks/bootstrap_replicates.py``), for half the time.
    cache : EmbeddingCache, optional
        Where embeddings are read or stored; default ``EmbeddingCache()``.
    random_state : int
        Seed of the bootstrap resampling.
    n_jobs : int, optional
        Worker processes for the scores and their bootstrap (None or 1: this process; -1: one
        per CPU). The numbers do not depend on it.

    Returns
    -------
    RankResult
    """
    start = time.perf_counter()
    if not (isinstance(n_boot, int) and n_boot >= 0):
        raise bad_parameter("rank", "n_boot", n_boot, "an int >= 0")
    chosen = resolve_metrics(metrics)
    check_labels(task)
    resolved = resolve_sources(sources, task)
    check_modality(task, resolved)
    candidates = make_candidates(resolved, layers)
    cache = cache or EmbeddingCache()
    want_proba = any(m.needs[0] == "source_proba" for m in chosen)
    inputs, embed_seconds = embed_candidates(candidates, task, cache, want_proba)
    notes: list[str] = []
    jobs = resolve_jobs(n_jobs)
    rows, replicates = score_candidates(candidates, inputs, task.labels, chosen, n_boot, random_state, notes, jobs)
    for row in rows:
        row.embed_seconds = embed_seconds[row.candidate]
    consensus = consensus_metrics(rows, chosen)
    order_rows(rows, chosen, consensus, replicates)
    return RankResult(
        task.name,
        len(task),
        int(np.unique(task.labels).size),
        [m.name for m in chosen],
        consensus,
        n_boot,
        rows,
        time.perf_counter() - start,
        notes,
    )


def make_candidates(sources: Mapping[str, Source], layers: Layers | Mapping[str, Layers]) -> list[Candidate]:
    """One candidate per (source, layer); the default layer is labelled by the source alone."""
    candidates: dict[str, Candidate] = {}
    for label, source in sources.items():
        for layer in resolve_layers(label, source, layers):
            cache_layer = cache_key_layer(source, layer)
            name = label if cache_layer is None else f"{label}{LAYER_SEP}{layer}"
            candidates.setdefault(name, Candidate(name, label, source, layer, cache_layer))  # "last" == last name
    return list(candidates.values())


def embed_candidates(
    candidates: list[Candidate], task: TaskData, cache: EmbeddingCache, want_proba: bool
) -> tuple[dict[str, dict[str, np.ndarray | None]], dict[str, float]]:
    """What the metrics read per candidate (``features``, ``source_proba``), through the cache.

    Returns ``{label: {"features": (n, d), "source_proba": (n, Z) or None}}`` and the seconds
    spent per candidate. Classifier probabilities exist only for a source with a classifier, at
    its default layer (the whole network), and are fetched only when a metric needs them.
    """
    inputs, seconds = {}, {}
    by_source: dict[str, list[Candidate]] = {}
    for c in candidates:
        by_source.setdefault(c.source_label, []).append(c)
    for group in by_source.values():
        shared = prefill_layers(group[0].source, task, [c.layer for c in group], cache) / len(group)
        for c in group:
            t0 = time.perf_counter()
            proba = None
            if want_proba and c.source.has_classifier and c.is_whole_network:
                proba = cache.get(ClassifierView(c.source), task, "source-proba")  # (n, Z)
            inputs[c.label] = {"features": cache.get(c.source, task, c.cache_layer), "source_proba": proba}
            seconds[c.label] = shared + time.perf_counter() - t0
    return inputs, seconds


def score_candidates(
    candidates: list[Candidate],
    inputs: dict[str, dict[str, np.ndarray | None]],
    labels: np.ndarray,
    metrics: list[Metric],
    n_boot: int,
    random_state: int,
    notes: list[str],
    n_jobs: int = 1,
) -> tuple[list[RankRow], dict[str, dict[str, np.ndarray]]]:
    """Point scores and bootstrap replicates per candidate; replicates are ``{metric: {label: (B,)}}``."""
    tasks = [(m, inputs[c.label].get(m.needs[0]), c.label) for c in candidates for m in metrics]
    outcomes = iter(score_pairs(tasks, labels, n_boot, random_state, n_jobs))
    rows, replicates = [], {m.name: {} for m in metrics}
    for c in candidates:
        dim = int(inputs[c.label]["features"].shape[1])  # type: ignore[union-attr]
        row = RankRow(c.label, c.source_label, c.layer, dim, {}, {}, {})
        for metric in metrics:
            value, reps, note, seconds = next(outcomes)
            row.scores[metric.name] = value
            row.std[metric.name] = float(np.std(reps, ddof=1)) if reps is not None and n_boot > 1 else None
            row.score_seconds += seconds
            if reps is not None:
                replicates[metric.name][c.label] = reps
            if note is not None:
                notes.append(note)
        rows.append(row)
    return rows, replicates


def consensus_metrics(rows: list[RankRow], metrics: list[Metric]) -> list[str]:
    """The scores every candidate has (all available ones if no score is shared by all)."""
    shared = [m.name for m in metrics if all(r.scores.get(m.name) is not None for r in rows)]
    return shared or [m.name for m in metrics if any(r.scores.get(m.name) is not None for r in rows)]


def metric_ranks(values: np.ndarray, higher_is_better: bool) -> np.ndarray:
    """Ranks along the first axis, 1 = best, ties averaged: ``(S, ...) -> (S, ...)``."""
    from scipy.stats import rankdata

    return rankdata(-values if higher_is_better else values, axis=0, method="average")


def order_rows(
    rows: list[RankRow], metrics: list[Metric], consensus: list[str], replicates: dict[str, dict[str, np.ndarray]]
) -> None:
    """Fill in mean rank, rank, per-metric P(best) and consensus P(best); sort rows best first."""
    by_name = {m.name: m for m in metrics}
    for metric in metrics:
        reps = replicates[metric.name]
        if len(reps) >= 1:
            share = best_share(np.stack(list(reps.values()))[:, None, :], [metric.higher_is_better])
            for r in rows:
                r.prob_best[metric.name] = float(share[list(reps).index(r.candidate)]) if r.candidate in reps else None
    mean_ranks = np.zeros(len(rows))
    for name in consensus:
        have = [i for i, r in enumerate(rows) if r.scores.get(name) is not None]
        values = np.array([rows[i].scores[name] for i in have])
        mean_ranks[have] += metric_ranks(values, by_name[name].higher_is_better) / len(consensus)
    for r, value in zip(rows, mean_ranks, strict=True):
        r.mean_rank = float(value) if consensus else None
    consensus_best = consensus_p_best(rows, consensus, by_name, replicates)
    for r in rows:
        r.p_best = consensus_best.get(r.candidate)
    rows.sort(key=lambda r: (r.mean_rank if r.mean_rank is not None else math.inf, r.candidate))
    for position, r in enumerate(rows, 1):
        r.rank = position


def best_share(replicates: np.ndarray, higher_is_better: list[bool]) -> np.ndarray:
    """How often each candidate is first in the mean rank over metrics of one replicate.

    ``replicates`` is ``(S, M, B)``: S candidates, M metrics, B paired replicates. Ties for
    first share the replicate equally. Returns ``(S,)``, summing to 1.
    """
    ranks = np.stack([metric_ranks(replicates[:, m, :], hib) for m, hib in enumerate(higher_is_better)], axis=1)
    mean = ranks.mean(axis=1)  # (S, B)
    is_best = mean == mean.min(axis=0, keepdims=True)
    return (is_best / is_best.sum(axis=0, keepdims=True)).mean(axis=1)


def consensus_p_best(
    rows: list[RankRow], consensus: list[str], by_name: dict[str, Metric], replicates: dict[str, dict[str, np.ndarray]]
) -> dict[str, float]:
    """P(best) of the consensus; empty when a candidate lacks replicates of a consensus metric."""
    labels = [r.candidate for r in rows]
    if not consensus or any(label not in replicates[m] for m in consensus for label in labels):
        return {}
    stacked = np.stack([[replicates[m][label] for m in consensus] for label in labels])  # (S, M, B)
    share = best_share(stacked, [by_name[m].higher_is_better for m in consensus])
    return {label: float(s) for label, s in zip(labels, share, strict=True)}


def _finite(value: Any) -> Any:
    """``value`` with float NaN / inf replaced by None, recursively (JSON has no NaN)."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
