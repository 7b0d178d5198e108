"""Stratified, nested budget sampling.

For one (task, seed) the training pool is put in one random *stratified order*: the first
``n_classes`` positions hold one example of every class, and each later position takes the class
furthest below its share of the pool. A total budget ``B`` is the first ``B`` examples of that
order, so budgets are nested by construction (the 40-example sample contains the 10-example one)
and every prefix is as close to the pool's class proportions as an integer count allows.
Per-class budgets take the first ``k`` examples of each class's own random order: nested too.
"""

from __future__ import annotations

import numpy as np

from transferlab.errors import InputError


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A permutation of ``range(len(labels))`` whose every prefix is stratified."""
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(labels, return_counts=True)
    queues = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    share = counts / counts.sum()
    taken = np.zeros(len(classes), dtype=np.int64)
    order = np.empty(len(labels), dtype=np.int64)
    first_round = rng.permutation(len(classes))
    tie_break = rng.permutation(len(classes))  # ties go to a seed-dependent class, not the lowest index
    for position in range(len(labels)):
        c = (
            first_round[position]
            if position < len(classes)
            else _most_behind(share, taken, counts, position, tie_break)
        )
        order[position] = queues[c][taken[c]]
        taken[c] += 1
    return order


def _most_behind(share: np.ndarray, taken: np.ndarray, counts: np.ndarray, position: int, tie_break: np.ndarray) -> int:
    deficit = share * (position + 1) - taken
    deficit[taken >= counts] = -np.inf  # exhausted classes
    tied = np.flatnonzero(np.isclose(deficit, deficit.max(), rtol=0.0, atol=1e-9))
    return int(tied[np.argmin(tie_break[tied])])


def sample_budget(labels: np.ndarray, budget: int, seed: int, per_class: bool = False) -> np.ndarray:
    """Indices of a stratified sample of ``budget`` examples (``budget`` per class if ``per_class``).

    Samples for the same ``seed`` are nested across budgets. Raises :class:`InputError` when the
    pool cannot supply the budget.
    """
    check_budget(labels, budget, per_class)
    if per_class:
        rng = np.random.default_rng(seed)
        parts = [rng.permutation(np.flatnonzero(labels == c))[:budget] for c in np.unique(labels)]
        return np.sort(np.concatenate(parts))
    return np.sort(stratified_order(labels, seed)[:budget])


def check_budget(labels: np.ndarray, budget: int, per_class: bool = False) -> None:
    """Raise :class:`InputError` unless the training pool can supply ``budget``."""
    classes, counts = np.unique(labels, return_counts=True)
    if per_class:
        short = counts < budget
        if short.any():
            c = int(classes[np.argmax(short)])
            raise InputError(
                f"budget {budget} per class needs {budget} training examples of every class, "
                f"but class {c} has {int(counts[np.argmax(short)])}; lower the budget or add data"
            )
        return
    if budget > len(labels):
        raise InputError(
            f"budget {budget} is larger than the training data ({len(labels)} examples); "
            "lower the budget or the test_size"
        )
    if budget < len(classes):
        raise InputError(
            f"budget {budget} is smaller than the number of classes ({len(classes)}); "
            "every class needs at least one labelled example: raise the budget"
        )
