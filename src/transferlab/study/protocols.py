"""Two evaluation protocols a study can run besides its budgets: unseen classes and few-shot episodes.

``unseen_classes`` (zero-shot transfer to new classes, the setting of DeViSE): for each seed,
some of the task's classes are held out of training. The budget is drawn from the seen classes
only; the test set keeps every class, so the analysis can score seen and unseen classes apart
(:mod:`transferlab.analysis.zero_shot`). An integer draws that many unseen classes at random per
seed (``split_seed`` and the seed fix the draw, so every arm with one seed holds out the same
classes and arms are paired by split); a list holds out the same named classes for every seed.

``evaluation: {episodes, n_way, k_shot, queries}`` (the few-shot protocol,
:mod:`transferlab.study.episodes`): N-way K-shot episodes of the frozen-feature strategies.

Both are checked against the data before any cell runs (:func:`check_protocols`): a class that
does not exist, more shots than the smallest class has, more ways than classes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from transferlab.data import TaskSplit, check_budget
from transferlab.errors import InputError

MIN_SIDE = 2  # classes on each side of a split: 1 unseen class would be "recognised" by elimination


class EpisodesSpec(BaseModel):
    """``evaluation:`` in a spec: N-way K-shot episodes with Q queries per class."""

    model_config = ConfigDict(extra="forbid")
    episodes: int = Field(600, ge=2, le=100_000, description="episodes per seed")
    n_way: int = Field(5, ge=2, description="classes per episode")
    k_shot: list[int] = Field(default_factory=lambda: [1], description="labelled support examples per class")
    queries: int = Field(15, ge=1, description="test queries per class and episode")

    @field_validator("k_shot", mode="before")
    @classmethod
    def _shots(cls, value: Any) -> Any:
        shots = [value] if isinstance(value, int) and not isinstance(value, bool) else value
        if not isinstance(shots, list) or not shots or any(not isinstance(k, int) or k < 1 for k in shots):
            raise ValueError(f"k_shot must be an integer >= 1 or a list of them, got {value!r}")
        return sorted(set(shots))


def check_unseen_setting(value: Any) -> Any:
    """The spec-level shape of ``unseen_classes``: a count >= 2 or a list of distinct names."""
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if value < MIN_SIDE:
            raise ValueError(f"unseen_classes must hold out at least {MIN_SIDE} classes, got {value}")
        return value
    if isinstance(value, list) and all(isinstance(v, str | int) for v in value):
        names = [str(v) for v in value]
        if len(set(names)) < len(names):
            raise ValueError(f"unseen_classes lists a class twice: {names}")
        return names
    raise ValueError(f"unseen_classes must be a number of classes or a list of class names, got {value!r}")


def unseen_class_index(classes: tuple[str, ...], unseen: int | list[str], split_seed: int, seed: int) -> np.ndarray:
    """Sorted indices of the classes seed ``seed`` holds out (the same for every arm of that seed)."""
    if isinstance(unseen, list):
        return np.array(sorted(classes.index(c) for c in unseen), dtype=np.int64)
    rng = np.random.default_rng(np.random.SeedSequence([split_seed, seed, 0x0C1A55]))  # its own stream
    return np.sort(rng.choice(len(classes), size=unseen, replace=False)).astype(np.int64)


def class_splits(spec: Any, classes: tuple[str, ...]) -> dict[int, list[int]]:
    """{seed: unseen class indices} for a spec with ``unseen_classes`` (empty otherwise)."""
    if spec.unseen_classes is None:
        return {}
    split_seed = spec.task.split_seed
    return {s: unseen_class_index(classes, spec.unseen_classes, split_seed, s).tolist() for s in spec.seed_list}


def seen_pool(labels: np.ndarray, unseen: np.ndarray) -> np.ndarray:
    """Indices of the training pool whose class is seen: where budgets are drawn from."""
    return np.flatnonzero(~np.isin(labels, unseen))


def check_protocols(spec: Any, split: TaskSplit) -> None:
    """Raise :class:`InputError` when the spec's protocols cannot run on this data, or a strategy
    cannot work with its class names (``Strategy.check_classes``)."""
    from transferlab.strategies import create_strategy

    classes = split.train.classes
    if spec.unseen_classes is not None:
        _check_unseen(spec, split)
    if spec.evaluation is not None:
        _check_episodes(spec.evaluation, split)
    for arm in spec.strategies + spec.baselines:
        create_strategy(arm.name, **arm.params).check_classes(classes)


def _check_unseen(spec: Any, split: TaskSplit) -> None:
    classes, unseen = split.train.classes, spec.unseen_classes
    if isinstance(unseen, list):
        missing = [c for c in unseen if c not in classes]
        if missing:
            raise InputError(
                f"unseen_classes: class {missing[0]!r} does not exist; the task's classes: {', '.join(classes)}"
            )
    count = len(unseen) if isinstance(unseen, list) else unseen
    if len(classes) - count < MIN_SIDE:
        raise InputError(
            f"unseen_classes holds out {count} of the {len(classes)} classes; at least {MIN_SIDE} must stay"
            f" seen to learn from: hold out at most {len(classes) - MIN_SIDE}"
        )
    per_class = spec.budget_unit == "per_class"
    for seed in spec.seed_list:
        index = unseen_class_index(classes, unseen, spec.task.split_seed, seed)
        labels = split.train.labels[seen_pool(split.train.labels, index)]
        for budget in spec.budgets:
            check_budget(labels, budget, per_class)  # the seen classes alone must supply every budget


def _check_episodes(evaluation: EpisodesSpec, split: TaskSplit) -> None:
    classes = split.train.classes
    if evaluation.n_way > len(classes):
        raise InputError(
            f"evaluation: n_way {evaluation.n_way} is more than the task's {len(classes)} classes; lower n_way"
        )
    for part, need, what in (
        (split.train, max(evaluation.k_shot), "k_shot"),
        (split.test, evaluation.queries, "queries"),
    ):
        counts = np.bincount(part.labels, minlength=len(classes))
        if counts.min() < need:
            smallest = classes[int(np.argmin(counts))]
            where = "training pool" if part is split.train else "test set"
            raise InputError(
                f"evaluation: {what} {need} needs {need} examples of every class in the {where}, but class"
                f" {smallest!r} has {int(counts.min())}; lower {what} (or the test_size)"
            )
