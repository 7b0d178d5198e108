"""A domain task: labelled data from a source domain, a model judged on a target domain.

The two sides come from one table with a domain column (:func:`select_domains`) or from two
tables with the same columns (:func:`align_classes`). :func:`domain_split` then cuts them into
the four parts of a domain study (:class:`~transferlab.data.task.TaskSplit`):

* source -> training pool (labelled budgets are drawn from it) + source validation set
  (``test_size`` of the source: labelled, held out, what the unsupervised validators score on);
* target -> target pool (its inputs reach the adaptation methods, its labels never reach ``fit``;
  labelled target budgets are drawn from it) + target test set (``target_test_size``: the only
  target labels a study reads, to score).

Both cuts are stratified by class and fixed for the study (``split_seed``), like a plain split.
The class lists of the two sides must match: a label seen on one side only makes "accuracy on the
target" compare different problems, so it is refused with the labels missing on each side.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from transferlab.data.budgets import stratified_order
from transferlab.data.task import TaskData, TaskSplit, fingerprint_of
from transferlab.errors import InputError


def select_domains(
    task: TaskData, column: str, source_domains: Sequence[str] | None, target_domains: Sequence[str] | None
) -> tuple[TaskData, TaskData]:
    """The source and target examples of one table, by the values of its domain ``column``.

    Either list may be left out: it is then every other domain. Unknown names fail with the
    domains the column holds; a name on both sides fails too.
    """
    if task.domains is None:
        raise InputError(
            f"{task.name}: no domain values were read; set task.domain_column to the column that names each"
            " example's domain (bundled sets with domains: see `transferlab datasets`)"
        )
    present = sorted(set(task.domains.tolist()))
    for side, names in (("source_domains", source_domains), ("target_domains", target_domains)):
        missing = [n for n in names or [] if n not in present]
        if missing:
            raise InputError(
                f"{task.name}: {side} {missing} have no examples in column {column!r}; its domains are:"
                f" {', '.join(present)}"
            )
    source = list(source_domains or [d for d in present if d not in (target_domains or [])])
    target = list(target_domains or [d for d in present if d not in source])
    shared = sorted(set(source) & set(target))
    if shared:
        raise InputError(f"{task.name}: domain {shared[0]!r} is both a source and a target domain; list it once")
    if not target:
        raise InputError(f"{task.name}: no target domain is left once the source domains are taken; list one")
    pick = np.isin(task.domains, source), np.isin(task.domains, target)
    return (
        task.subset(np.flatnonzero(pick[0]), "source:" + ",".join(source)),
        task.subset(np.flatnonzero(pick[1]), "target:" + ",".join(target)),
    )


def align_classes(source: TaskData, target: TaskData) -> tuple[TaskData, TaskData]:
    """Two tables' labels re-coded over one sorted class list (each table numbers its own classes)."""
    if source.modality != target.modality:
        raise InputError(
            f"the source data {source.name!r} holds {source.modality} examples and the target data"
            f" {target.name!r} {target.modality} ones; give two tables of the same kind of input"
        )
    classes = tuple(sorted(set(source.classes) | set(target.classes)))
    return _recoded(source, classes), _recoded(target, classes)


def _recoded(task: TaskData, classes: tuple[str, ...]) -> TaskData:
    lookup = np.array([classes.index(c) for c in task.classes], dtype=np.int64)
    labels = lookup[task.labels]
    fingerprint = fingerprint_of([], labels, task.fingerprint + "|classes=" + ",".join(classes))
    return TaskData(**{**task.__dict__, "labels": labels, "classes": classes, "fingerprint": fingerprint})


def check_label_sets(source: TaskData, target: TaskData) -> None:
    """Raise unless both sides have examples of every class, naming what each side lacks."""
    if len(source) == 0 or len(target) == 0:
        side = "source" if len(source) == 0 else "target"
        raise InputError(f"{source.name}: the {side} domain has no labelled examples; check its domain names")
    names = np.array(source.classes)
    seen_source, seen_target = np.unique(source.labels), np.unique(target.labels)
    only_target = names[np.setdiff1d(seen_target, seen_source)].tolist()
    only_source = names[np.setdiff1d(seen_source, seen_target)].tolist()
    if not only_target and not only_source:
        return
    parts = [f"labels {only_target} have no source examples"] if only_target else []
    parts += [f"labels {only_source} have no target examples"] if only_source else []
    raise InputError(
        f"source and target have different label sets: {'; '.join(parts)}; keep the classes both domains share"
        " (filter the rows) or choose domains that have them all"
    )


def check_target_budgets(pool_labels: np.ndarray, budgets: Sequence[int], per_class: bool = False) -> None:
    """Raise unless the target pool (the target not held out to test) can supply every target budget."""
    classes, counts = np.unique(pool_labels, return_counts=True)
    fix = "lower it, or lower target_test_size to keep more of the target in the pool"
    for budget in [b for b in budgets if b > 0]:
        if per_class and counts.min() < budget:
            raise InputError(
                f"target_budgets: {budget} per class needs {budget} target-pool examples of every class, but class"
                f" {int(classes[counts.argmin()])} has {int(counts.min())}; {fix}"
            )
        if not per_class and budget > len(pool_labels):
            raise InputError(
                f"target_budgets: {budget} is larger than the target pool ({len(pool_labels)} examples); {fix}"
            )
        if not per_class and budget < len(classes):
            raise InputError(
                f"target_budgets: {budget} is smaller than the number of classes ({len(classes)}); every class"
                " needs one labelled target example: raise it, or use 0"
            )


def cap_examples(task: TaskData, max_examples: int | None, seed: int) -> TaskData:
    """A stratified ``max_examples`` of one side (the whole side when smaller or no cap)."""
    if not max_examples or max_examples >= len(task):
        return task
    return task.subset(np.sort(stratified_order(task.labels, seed)[:max_examples]), f"sub{max_examples}-{seed}")


def domain_split(
    source: TaskData,
    target: TaskData,
    test_size: float,
    target_test_size: float,
    seed: int = 0,
    transductive: bool = False,
) -> TaskSplit:
    """Source -> (training pool, validation); target -> (pool, test). See the module docstring."""
    from transferlab.data import split_task  # the package imports this module

    check_label_sets(source, target)
    source_part = split_task(_named(source, "source"), test_size, seed)
    target_part = split_task(_named(target, "target"), target_test_size, seed)
    return TaskSplit(
        train=source_part.train,
        test=target_part.test,
        unlabeled=target_part.train,
        source_val=source_part.test,
        transductive=transductive,
    )


def _named(task: TaskData, side: str) -> TaskData:
    """The side's name in errors: ``reviews.csv (target domain)``; the content and fingerprint are unchanged."""
    return TaskData(**{**task.__dict__, "name": f"{task.name} ({side} domain)"})
