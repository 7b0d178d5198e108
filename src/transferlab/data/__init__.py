"""Labelled tasks: loading (files, arrays, bundled sets), splitting and budget sampling."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from transferlab.data.budgets import check_budget, sample_budget, stratified_order
from transferlab.data.bundled import DATASETS, load_bundled
from transferlab.data.hf_datasets import is_hf_dataset, load_hf_dataset
from transferlab.data.images import load_image_folder, task_from_image_frame
from transferlab.data.loaders import (
    read_table,
    require_columns,
    task_from_arrays,
    task_from_frame,
    task_from_npz,
)
from transferlab.data.task import TaskData, TaskSplit, fingerprint_of
from transferlab.errors import InputError


def load_task(
    dataset: str,
    label_column: str = "label",
    text_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    domain_column: str | None = None,
    split_column: str | None = None,
    image_column: str | None = None,
    image_size: int | None = None,
    hf_split: str | None = None,
) -> TaskData:
    """A task from a bundled name, a file (.csv, .tsv, .parquet, .jsonl, .npz), an image folder
    (``root/<class>/<image>``), or a Hugging Face dataset (``hf-disk:<folder>``, ``hf:<hub name>``).

    ``image_column`` names a column of image paths (relative to the table); ``image_size`` the side
    images are resized to (see :mod:`transferlab.data.images`); ``hf_split`` a dataset's split.
    """
    if dataset in DATASETS:
        return load_bundled(dataset)
    if is_hf_dataset(dataset):
        columns = (label_column, text_column, image_column, feature_columns, domain_column)
        return load_hf_dataset(dataset, *columns, split=hf_split, image_size=image_size)
    if Path(dataset).is_dir():
        return load_image_folder(dataset, image_size)
    if Path(dataset).suffix.lower() == ".npz":
        return task_from_npz(dataset)
    frame = read_table(dataset)
    if image_column:
        base, name = Path(dataset).parent, Path(dataset).name
        task = task_from_image_frame(frame, base, name, image_column, label_column, domain_column, image_size)
    else:
        if text_column is None and not feature_columns:
            text_column = "text"
        task = task_from_frame(frame, Path(dataset).name, label_column, text_column, feature_columns, domain_column)
    if split_column is None:
        return task
    require_columns(frame, [split_column], task.name)
    values = frame.dropna(subset=[label_column])[split_column].astype(str).str.lower().to_numpy()
    return replace(task, split=values)


def split_task(task: TaskData, test_size: float = 0.3, seed: int = 0) -> TaskSplit:
    """A stratified train / test split, fixed for a study (it does not change with the cell seed).

    If the task came from a file with a split column, its ``train`` / ``test`` values are used.
    """
    if task.split is not None:
        return _split_by_column(task, task.split)
    from sklearn.model_selection import train_test_split

    if not 0.0 < test_size < 1.0:
        raise InputError(f"test_size must be between 0 and 1, got {test_size}")
    index = np.arange(len(task))
    _, counts = np.unique(task.labels, return_counts=True)
    if counts.min() < 2:
        raise InputError(f"{task.name}: every class needs at least 2 examples to split, one has {counts.min()}")
    train, test = train_test_split(index, test_size=test_size, stratify=task.labels, random_state=seed)
    return TaskSplit(task.subset(np.sort(train), "train"), task.subset(np.sort(test), "test"))


def _split_by_column(task: TaskData, values: np.ndarray) -> TaskSplit:
    found = set(np.unique(values))
    if not {"train", "test"} <= found:
        raise InputError(f"{task.name}: the split column must hold 'train' and 'test', found {sorted(found)[:5]}")
    train, test = np.flatnonzero(values == "train"), np.flatnonzero(values == "test")
    return TaskSplit(task.subset(train, "train"), task.subset(test, "test"))


def subsample(task: TaskData, n: int, seed: int = 0) -> TaskData:
    """A stratified subsample of ``n`` examples (the whole task when it is smaller)."""
    if n >= len(task):
        return task
    return task.subset(np.sort(stratified_order(task.labels, seed)[:n]), f"sub{n}-{seed}")


__all__ = [
    "DATASETS",
    "TaskData",
    "TaskSplit",
    "check_budget",
    "fingerprint_of",
    "load_bundled",
    "load_task",
    "read_table",
    "sample_budget",
    "split_task",
    "subsample",
    "task_from_arrays",
    "task_from_frame",
]
