"""The domain-study part of a cell: what ``fit`` receives, and the validators' scores after it.

* **Training set**: the source budget, plus ``cell.target_budget`` labelled target examples drawn
  from the target pool (stratified and nested like source budgets, with a seed of their own shared
  by every arm of the cell's seed), marked in ``Examples.domains``.
* **Unlabelled target**: for strategies that declare ``uses_unlabeled_target``, the target pool
  without the rows labelled for the target budget (transductive: the test inputs), as
  :class:`~transferlab.strategies.target_guard.UnlabelledTarget`, whose labels cannot be read.
* **Validators** (transfer arms): every score of :func:`~transferlab.metrics.validators.validator_scores`
  on the source validation set and the unlabelled target inputs, with the importance weights of
  one cross-fitted domain classifier per source on the cached embeddings. The weights depend on
  the source and the data only, so they are computed once per process and every candidate of a
  (budget, seed) is scored with the same ones: validators then differ only by the predictions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.data import TaskData, TaskSplit, load_task, sample_budget
from transferlab.data.domains import align_classes, cap_examples, domain_split, select_domains
from transferlab.data.languages import clip_texts, map_labels
from transferlab.strategies import Examples
from transferlab.strategies.target_guard import UnlabelledTarget
from transferlab.study.domain_spec import target_test_size
from transferlab.study.spec import TaskSpec

if TYPE_CHECKING:
    from transferlab.study.cell import CellContext
    from transferlab.study.planner import Cell


def load_domain_split(task: TaskSpec) -> TaskSplit:
    """A domain task's four parts (see :mod:`transferlab.data.domains`); ``max_examples`` caps each side."""
    columns = {
        "label_column": task.label_column,
        "text_column": task.text_column,
        "feature_columns": task.feature_columns,
        "image_column": task.image_column,
        "image_size": task.image_size,
        "hf_split": task.hf_split,
    }
    if task.is_language_study:  # a language is a domain: only how the sides are chosen differs
        from transferlab.study.language_cell import language_sides

        source, target = language_sides(task, columns)
    elif task.target_dataset:
        source, target = load_task(task.dataset, **columns), load_task(task.target_dataset, **columns)
    else:
        data = load_task(task.dataset, domain_column=task.domain_column, **columns)
        source, target = select_domains(data, str(task.domain_column), task.source_domains, task.target_domains)
    if task.label_map is not None:  # before aligning: it reads each table's own label names
        source, target = map_labels(source, target, task.label_map)
    if task.target_dataset:
        source, target = align_classes(source, target)
    source, target = clip_texts(source, task.max_chars), clip_texts(target, task.max_chars)
    seed = task.split_seed
    source, target = cap_examples(source, task.max_examples, seed), cap_examples(target, task.max_examples, seed)
    return domain_split(source, target, task.test_size, target_test_size(task), seed, task.transductive)


def target_budget_index(cell: Cell, context: CellContext) -> np.ndarray:
    """Rows of the target pool labelled for the cell's target budget (empty when it is 0)."""
    if not cell.target_budget:
        return np.zeros(0, dtype=np.int64)
    pool = context.task().unlabeled
    assert pool is not None  # only called in a domain study
    seed = int(np.random.SeedSequence([context.spec.task.split_seed, cell.seed, 1]).generate_state(1)[0])
    per_class = context.spec.budget_unit == "per_class"
    return sample_budget(pool.labels, cell.target_budget, seed, per_class)


def domain_inputs(
    cell: Cell, context: CellContext, kind: str, index: np.ndarray, adapts: bool
) -> tuple[Examples, Examples | None, Any]:
    """(training set, unlabelled target for ``fit`` or None, test inputs) of a domain-study cell."""
    split = context.task()
    pool = split.unlabeled
    assert pool is not None
    labelled = target_budget_index(cell, context)
    parts = _parts(cell, context, kind)
    train_x = _join(_take(parts["train"], index), _take(parts["pool"], labelled))
    labels = np.r_[split.train.labels[index], pool.labels[labelled]]
    domains = np.r_[np.full(len(index), "source"), np.full(len(labelled), "target")]
    train = Examples(train_x, labels, split.train.classes, domains)
    if not adapts:
        return train, None, parts["test"]
    rest = np.setdiff1d(np.arange(len(pool)), labelled)
    unlabelled = parts["test"] if split.transductive else _take(parts["pool"], rest)
    return train, UnlabelledTarget(unlabelled, split.train.classes), parts["test"]


def validator_metrics(strategy: Any, cell: Cell, context: CellContext, kind: str) -> dict[str, float]:
    """Every validator's score of a fitted strategy, as ``validator.<name>`` metrics."""
    from transferlab.metrics.validators import validator_scores

    split = context.task()
    assert split.source_val is not None
    parts = _parts(cell, context, kind)
    val = Examples(parts["val"], split.source_val.labels, split.train.classes)
    target = UnlabelledTarget(parts["test"] if split.transductive else parts["pool"], split.train.classes)
    scores = validator_scores(strategy, val, target, weights=_weights(cell, context))
    return {f"validator.{name}": float(value) for name, value in scores.items()}


def _weights(cell: Cell, context: CellContext) -> np.ndarray:
    """Estimated density ratios of the source validation examples (not rescaled: DEV needs them as estimated)."""
    from transferlab.metrics.density_ratio import domain_classifier_weights

    key = f"validator-weights:{cell.source.label}"
    if key not in context.memo:
        parts = _parts(cell, context, "features")
        target = parts["test"] if context.task().transductive else parts["pool"]
        seed = context.spec.task.split_seed
        context.memo[key] = domain_classifier_weights(parts["val"], target, random_state=seed, normalise=False)
    weights: np.ndarray = context.memo[key]
    return weights


def _parts(cell: Cell, context: CellContext, kind: str) -> dict[str, Any]:
    """The four parts' inputs as a strategy of ``kind`` sees them: cached embeddings, or raw inputs."""
    split = context.task()
    named = {"train": split.train, "test": split.test, "pool": split.unlabeled, "val": split.source_val}
    if kind != "features":
        return {name: part.inputs for name, part in named.items() if part is not None}
    source = context.source(cell.source)
    return {name: context.cache.get(source, part) for name, part in named.items() if part is not None}


def _take(inputs: Any, index: np.ndarray) -> Any:
    return [inputs[i] for i in index] if isinstance(inputs, list) else np.asarray(inputs)[index]


def _join(first: Any, second: Any) -> Any:
    if isinstance(first, list):
        return first + list(second)
    return np.concatenate([np.asarray(first), np.asarray(second)])


def domain_summary(split: TaskSplit, task: TaskSpec) -> dict[str, Any]:
    """What summary.json says about the domains: what each side is and the four parts' sizes."""
    assert split.unlabeled is not None and split.source_val is not None

    def names(part: TaskData, table: str) -> list[str]:
        return [table] if part.domains is None else sorted(set(part.domains.tolist()))

    return {
        "source_domains": names(split.train, task.dataset),
        "target_domains": names(split.test, str(task.target_dataset)),
        "n_source_pool": len(split.train),
        "n_source_val": len(split.source_val),
        "n_target_pool": len(split.unlabeled),
        "n_target_test": len(split.test),
        "transductive": split.transductive,
    }
