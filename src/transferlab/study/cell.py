"""Running one cell: sample the budget, get features, fit, predict, score, measure the cost.

:class:`CellContext` is the per-process state (the loaded task, built sources, the embedding
cache); it is built once per worker, so a cell can run in the driver, in a process pool or on a
Ray worker with the same result.
"""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transferlab.data import TaskSplit, load_task, sample_budget, split_task, subsample
from transferlab.errors import InputError
from transferlab.metrics.task import task_metrics
from transferlab.sources import Source, create_source
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies import Examples, create_strategy, strategy_class
from transferlab.study.planner import Cell
from transferlab.study.spec import Arm, StudySpec, TaskSpec


def load_split(task: TaskSpec) -> TaskSplit:
    """The task of a spec, subsampled if asked, split into training pool and test set."""
    data = load_task(
        task.dataset,
        label_column=task.label_column,
        text_column=task.text_column or task.image_column,
        feature_columns=task.feature_columns,
        domain_column=task.domain_column,
        split_column=task.split_column,
    )
    if task.max_examples:
        data = subsample(data, task.max_examples, task.split_seed)
    return split_task(data, task.test_size, task.split_seed)


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


@dataclass
class CellContext:
    """Per-process state shared by the cells a worker runs."""

    spec: StudySpec
    cache: EmbeddingCache = field(default_factory=EmbeddingCache)
    split: TaskSplit | None = None
    sources: dict[str, Source] = field(default_factory=dict)

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
    split = context.task()
    cls = strategy_class(cell.strategy.name)
    strategy = create_strategy(cell.strategy.name, random_state=cell.random_state, **cell.strategy.params)
    source = context.source(cell.source) if cls.uses_source else None
    index = _budget_index(cell, context)
    embed_before = context.cache.embed_seconds
    reset_peak_rss()
    train, test_inputs = _inputs(cell, context, cls.input_kind, index)
    start = time.perf_counter()
    strategy.fit(train, source=source)
    fit_seconds = time.perf_counter() - start
    proba = check_proba(strategy.predict_proba(test_inputs), len(split.test), split.test.n_classes, cell)
    cost = {
        "fit_seconds": fit_seconds,
        "predict_seconds": time.perf_counter() - start - fit_seconds,
        "embed_seconds": context.cache.embed_seconds - embed_before,
        "trainable_params": float(strategy.trainable_parameters()),
        "peak_rss_mb": peak_rss_mb(),
        "train_examples_per_second": len(index) / fit_seconds if fit_seconds > 0 and len(index) else 0.0,
    }
    if cls.trains_backbone and split.train.modality == "text" and hasattr(strategy, "encoder_after"):
        from transferlab.analysis.forgetting import forgetting

        cost.update(forgetting(source, strategy.encoder_after(), context.cache))
    return CellResult(cell.key, task_metrics(split.test.labels, proba), cost, proba.astype(np.float32))


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
    return sample_budget(labels, cell.budget, budget_seed(context.spec.task.split_seed, cell.seed), per_class)


def _inputs(cell: Cell, context: CellContext, kind: str, index: np.ndarray) -> tuple[Examples, Any]:
    split = context.task()
    labels = split.train.labels[index]
    if kind == "features":
        train_x, test_x = context.features(cell.source)
        return Examples(train_x[index], labels, split.train.classes), test_x
    train = split.train.subset(index)
    return Examples(train.inputs, labels, split.train.classes), split.test.inputs


def check_proba(proba: np.ndarray, n: int, n_classes: int, cell: Cell) -> np.ndarray:
    """Raise unless a strategy returned finite probabilities of shape (n_test, n_classes)."""
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (n, n_classes) or not np.isfinite(proba).all():
        raise InputError(
            f"{cell.strategy.label} returned probabilities of shape {proba.shape}, expected ({n}, {n_classes}) finite"
        )
    return proba / proba.sum(axis=1, keepdims=True)
