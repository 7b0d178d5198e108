"""Running one cell: sample the budget, get features, fit, predict, score, measure the cost.

:class:`CellContext` is the per-process state (the loaded task, built sources, the embedding
cache); it is built once per worker, so a cell can run in the driver, in a process pool or on a
Ray worker with the same result.
"""

from __future__ import annotations

import math
import resource
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transferlab.data import TaskSplit, load_task, sample_budget, split_task, subsample
from transferlab.data.languages import clip_texts
from transferlab.errors import InputError
from transferlab.metrics.task import task_metrics
from transferlab.sources import Source, create_source
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies import Examples, create_strategy, strategy_class
from transferlab.study.planner import Cell
from transferlab.study.spec import Arm, StudySpec, TaskSpec


def load_split(task: TaskSpec) -> TaskSplit:
    """The task of a spec, subsampled if asked, split into training pool and test set.

    A domain study's split has the target pool and the source validation set too
    (:func:`~transferlab.study.domain_cell.load_domain_split`).
    """
    if task.is_domain_study:
        from transferlab.study.domain_cell import load_domain_split

        return load_domain_split(task)
    data = load_task(
        task.dataset,
        label_column=task.label_column,
        text_column=task.text_column,
        feature_columns=task.feature_columns,
        domain_column=task.domain_column,
        split_column=task.split_column,
        image_column=task.image_column,
        image_size=task.image_size,
        hf_split=task.hf_split,
    )
    if task.max_examples:
        data = subsample(data, task.max_examples, task.split_seed)
    return split_task(clip_texts(data, task.max_chars), task.test_size, task.split_seed)


def budget_seed(split_seed: int, seed: int) -> int:
    """Seed of the budget sample: shared by every arm with the same seed (that is the pairing)."""
    return int(np.random.SeedSequence([split_seed, seed]).generate_state(1)[0])


@dataclass
class CellResult:
    """What a cell returns to the driver: scores, cost and per-example test predictions."""

    key: str
    metrics: dict[str, float]
    cost: dict[str, float]
    proba: np.ndarray  # (n_test, C)
    health: list[str] = field(default_factory=list)  # training-health flags (NaN loss, diverged, ...)
    episodes: np.ndarray | None = None  # (n_episodes,) accuracies of an episodic cell (study/episodes.py)
    source_proba: np.ndarray | None = None  # (n_source_test, C): a cross-lingual study's second test set


@dataclass
class CellContext:
    """Per-process state shared by the cells a worker runs."""

    spec: StudySpec
    cache: EmbeddingCache = field(default_factory=EmbeddingCache)
    split: TaskSplit | None = None
    sources: dict[str, Source] = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict)  # per-process results shared by cells (validator weights)

    def task(self) -> TaskSplit:
        if self.split is None:
            self.split = load_split(self.spec.task)
        return self.split

    def source(self, arm: Arm) -> Source:
        if arm.label not in self.sources:
            self.sources[arm.label] = create_source(arm.name, **arm.params)
        return self.sources[arm.label]

    def features(self, arm: Arm) -> tuple[np.ndarray, np.ndarray]:
        """Cached embeddings of the training pool and the test set by one source."""
        split, source = self.task(), self.source(arm)
        return self.cache.get(source, split.train), self.cache.get(source, split.test)


def run_cell(cell: Cell, context: CellContext) -> CellResult:
    """Run one cell from scratch; raises on failure (the driver records the error)."""
    if cell.role == "episodic":
        from transferlab.study.episodes import run_episodic_cell

        return run_episodic_cell(cell, context)
    split = context.task()
    cls = strategy_class(cell.strategy.name)
    strategy = create_strategy(cell.strategy.name, random_state=cell.random_state, **cell.strategy.params)
    source = context.source(cell.source) if cls.uses_source else None
    index = _budget_index(cell, context)
    embed_before = context.cache.embed_seconds
    reset_peak_rss()
    train, unlabeled, test_inputs = _inputs(cell, context, cls, index)
    start = time.perf_counter()
    strategy.fit(train, unlabeled=unlabeled, source=source)
    fit_seconds = time.perf_counter() - start
    # training stops at a NaN loss before it reaches the weights, so the predictions stay finite:
    # the cell is kept, flagged, and its arm is not counted as having learned
    health = training_health(strategy)
    proba = check_proba(strategy.predict_proba(test_inputs), len(split.test), split.test.n_classes, cell)
    cost = {
        "fit_seconds": fit_seconds,
        "predict_seconds": time.perf_counter() - start - fit_seconds,
        "embed_seconds": context.cache.embed_seconds - embed_before,
        "trainable_params": float(strategy.trainable_parameters()),
        "peak_rss_mb": peak_rss_mb(),
        "train_examples_per_second": len(train) / fit_seconds if fit_seconds > 0 and len(train) else 0.0,
    }
    if cls.trains_backbone and split.train.modality == "text" and hasattr(strategy, "encoder_after"):
        from transferlab.study.forgetting import forgetting

        cost.update(forgetting(source, strategy.encoder_after(), context.cache))
    metrics = task_metrics(split.test.labels, proba)
    if split.is_domain and cell.role == "transfer" and cls.uses_source:
        from transferlab.study.domain_cell import validator_metrics

        start = time.perf_counter()
        metrics |= validator_metrics(strategy, cell, context, cls.input_kind)
        cost["validate_seconds"] = time.perf_counter() - start
    source_proba = None
    if split.is_domain and context.spec.task.is_language_study:  # the transfer matrix's other column
        from transferlab.study.language_cell import source_test_proba

        source_proba = source_test_proba(strategy, cell, context, cls.input_kind).astype(np.float32)
    return CellResult(cell.key, metrics, cost, proba.astype(np.float32), health, source_proba=source_proba)


def training_health(strategy: Any) -> list[str]:
    """Flags from what a training strategy recorded (``train_stats_``; ``health_`` for extra flags)."""
    stats = getattr(strategy, "train_stats_", None)
    flags = loss_flags(stats) if isinstance(stats, dict) else []
    return sorted(set(flags) | set(getattr(strategy, "health_", [])))


def loss_flags(stats: dict[str, float]) -> list[str]:
    """``nan-loss`` / ``diverged`` from a training loop's first and final losses.

    Diverged: the final loss ended well above where training started (1.5x plus 0.1 nats, so
    the ordinary noise of a few small batches is not mistaken for it).
    """
    if stats.get("nan_loss"):
        return ["nan-loss"]
    first, final = stats.get("first_loss", math.nan), stats.get("final_loss", math.nan)
    if math.isfinite(first) and math.isfinite(final) and final > 1.5 * first + 0.1:
        return ["diverged"]
    return []


def reset_peak_rss() -> None:
    """Start a new peak-memory window for this process (Linux: writing 5 to clear_refs resets VmHWM).

    Without it a worker's peak would be the largest of every cell it ever ran: the process's
    ``ru_maxrss`` never goes down. Elsewhere this does nothing and the peak is the process's.
    """
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


def peak_rss_mb() -> float:
    """Peak resident memory since :func:`reset_peak_rss` (VmHWM), or of the whole process, in MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _budget_index(cell: Cell, context: CellContext) -> np.ndarray:
    if cell.budget == 0:
        return np.zeros(0, dtype=np.int64)
    labels = context.task().train.labels
    per_class = context.spec.budget_unit == "per_class"
    pool = np.arange(len(labels))
    if context.spec.unseen_classes is not None:  # the budget comes from the seen classes only
        from transferlab.study.protocols import seen_pool, unseen_class_index

        classes, split_seed = context.task().train.classes, context.spec.task.split_seed
        pool = seen_pool(labels, unseen_class_index(classes, context.spec.unseen_classes, split_seed, cell.seed))
    seed = budget_seed(context.spec.task.split_seed, cell.seed)
    return pool[sample_budget(labels[pool], cell.budget, seed, per_class)]


def _inputs(cell: Cell, context: CellContext, cls: Any, index: np.ndarray) -> tuple[Examples, Any, Any]:
    """(training set, unlabelled target inputs or None, test inputs) as the strategy's ``fit`` takes them."""
    split, kind = context.task(), cls.input_kind
    if split.is_domain:
        from transferlab.study.domain_cell import domain_inputs

        return domain_inputs(cell, context, kind, index, cls.uses_unlabeled_target)
    labels = split.train.labels[index]
    if kind == "features":
        train_x, test_x = context.features(cell.source)
        return Examples(train_x[index], labels, split.train.classes), None, test_x
    train = split.train.subset(index)
    return Examples(train.inputs, labels, split.train.classes), None, split.test.inputs


def check_proba(proba: np.ndarray, n: int, n_classes: int, cell: Cell) -> np.ndarray:
    """Raise unless a strategy returned finite probabilities of shape (n_test, n_classes)."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (n, n_classes) or not np.isfinite(proba).all():
        raise InputError(
            f"{cell.strategy.label} returned probabilities of shape {proba.shape}, expected ({n}, {n_classes}) finite"
        )
    return proba / proba.sum(axis=1, keepdims=True)
