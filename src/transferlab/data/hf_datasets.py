"""Hugging Face ``datasets`` as tasks: ``hf-disk:<folder>`` (saved to disk) and ``hf:<hub name>``.

``hf-disk:`` reads a folder written by ``Dataset.save_to_disk`` / ``DatasetDict.save_to_disk``
(Arrow files, memory-mapped, no network). ``hf:`` calls ``datasets.load_dataset`` and so needs
the network the first time (then the ``datasets`` cache); without it the error says how to use a
saved copy instead.

Splits: ``hf_split`` names the one split to use (the study then holds out ``test_size`` of it).
Left out, a dataset with ``train`` and ``test`` splits keeps them as the study's training pool and
test set (other splits, such as ``validation``, are not used), and a dataset with one split uses it.

Columns are the spec's: ``label_column`` (a ``ClassLabel`` column gives its class names), then
``text_column``, ``image_column`` (an ``Image`` column is decoded by :mod:`transferlab.data.images`,
with its cache and fingerprint rules) or ``feature_columns``.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transferlab.data.images import ImageItem, images_task
from transferlab.data.loaders import encode_labels, task_from_arrays, task_from_frame
from transferlab.data.task import TaskData
from transferlab.errors import InputError, first_line

PREFIXES = ("hf-disk:", "hf:")


def is_hf_dataset(dataset: str) -> bool:
    """True for ``hf-disk:<folder>`` and ``hf:<hub name>``."""
    return dataset.startswith(PREFIXES)


def load_hf_dataset(
    dataset: str,
    label_column: str = "label",
    text_column: str | None = None,
    image_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    domain_column: str | None = None,
    split: str | None = None,
    image_size: int | None = None,
) -> TaskData:
    """A task from a saved or hub dataset (see the module docstring for splits and columns)."""
    parts = _choose_splits(_open_dataset(dataset, split), split, dataset)
    name = Path(dataset.partition(":")[2]).name or dataset
    labels = np.concatenate([_label_names(part, label_column, dataset) for part in parts.values()])
    if image_column:
        task = _image_task(parts, name, image_column, labels, image_size)
        if domain_column:
            task = TaskData(**{**task.__dict__, "domains": _column(parts, domain_column, dataset).astype(str)})
    else:
        if text_column is None and not feature_columns:
            text_column = "text"
        columns = [text_column, domain_column, *(feature_columns or [])]
        frame = pd.concat([_frame(part, columns, dataset) for part in parts.values()], ignore_index=True)
        frame[label_column] = labels
        task = task_from_frame(frame, name, label_column, text_column, feature_columns, domain_column)
    if len(parts) == 1:
        return task
    split_of = np.concatenate([np.full(len(part), key) for key, part in parts.items()])
    return TaskData(**{**task.__dict__, "split": split_of})


def _open_dataset(dataset: str, split: str | None) -> Any:
    try:
        import datasets
    except ImportError as exc:
        raise InputError(f"{dataset}: reading Hugging Face datasets needs: pip install 'transferlab[hf]'") from exc
    datasets.disable_progress_bars()
    kind, _, ref = dataset.partition(":")
    if kind == "hf-disk":
        try:
            return datasets.load_from_disk(str(Path(ref).expanduser()))
        except (FileNotFoundError, NotADirectoryError, ValueError) as exc:
            raise InputError(
                f"{dataset}: not a dataset saved with save_to_disk ({first_line(exc)});"
                " give the folder that holds dataset_info.json or dataset_dict.json"
            ) from None
    try:
        return datasets.load_dataset(ref, split=split)
    except Exception as exc:  # offline, unknown name, bad split: the hub's reasons are many; all are one line
        raise InputError(
            f"{dataset}: cannot load it from the Hugging Face hub ({first_line(exc)}); it needs the network."
            " Offline, use a saved copy: load_dataset(...).save_to_disk(folder), then dataset: hf-disk:<folder>"
        ) from None


def _choose_splits(loaded: Any, split: str | None, dataset: str) -> dict[str, Any]:
    """{split name: Dataset}: the one asked for, else train + test, else the only one."""
    if not hasattr(loaded, "keys"):  # a single Dataset
        return {split or "train": loaded}
    names = list(loaded.keys())
    if split is not None:
        if split not in names:
            raise InputError(f"{dataset}: no split {split!r}; its splits are {names}; set task.hf_split to one")
        return {split: loaded[split]}
    if {"train", "test"} <= set(names):
        return {"train": loaded["train"], "test": loaded["test"]}
    if len(names) == 1:
        return {names[0]: loaded[names[0]]}
    raise InputError(f"{dataset}: it has splits {names} and none is 'test'; set task.hf_split to the one to use")


def _require(part: Any, columns: Sequence[str | None], dataset: str) -> None:
    for column in columns:
        if column is not None and column not in part.column_names:
            raise InputError(f"{dataset}: no column {column!r}; the columns are: {', '.join(part.column_names)}")


def _label_names(part: Any, label_column: str, dataset: str) -> np.ndarray:
    _require(part, [label_column], dataset)
    values = part[label_column]
    feature = part.features[label_column]
    if hasattr(feature, "int2str"):  # a ClassLabel: keep the class names, not their integer codes
        return np.array(feature.int2str(list(values)), dtype=object)
    return np.array(list(values), dtype=object)


def _frame(part: Any, columns: list[str | None], dataset: str) -> pd.DataFrame:
    wanted = [c for c in dict.fromkeys(columns) if c is not None]
    _require(part, wanted, dataset)
    return part.select_columns(wanted).to_pandas() if wanted else pd.DataFrame(index=range(len(part)))


def _column(parts: dict[str, Any], column: str, dataset: str) -> np.ndarray:
    for part in parts.values():
        _require(part, [column], dataset)
    return np.concatenate([np.array(list(part[column]), dtype=object) for part in parts.values()])


def _image_task(
    parts: dict[str, Any], name: str, column: str, raw_labels: np.ndarray, image_size: int | None
) -> TaskData:
    import datasets

    first = next(iter(parts.values()))
    _require(first, [column], name)
    if not isinstance(first.features[column], datasets.Image):  # arrays stored as lists: (n, H, W[, C])
        return task_from_arrays(_column(parts, column, name).tolist(), raw_labels, name)
    items: list[ImageItem] = []
    for key, part in parts.items():
        raw = part.cast_column(column, datasets.Image(decode=False))[column]  # {"bytes", "path"} per row
        items += [(f"{name}[{key}][{i}]", r["bytes"]) if r["bytes"] else Path(r["path"]) for i, r in enumerate(raw)]
    labels, classes = encode_labels(raw_labels, name)
    return images_task(name, items, labels, classes, image_size, key=_arrow_key(parts, column))


def _arrow_key(parts: dict[str, Any], column: str) -> str:
    """The Arrow files' paths, sizes and mtimes (as for an image folder): a cheap identity."""
    stats = []
    for key, part in parts.items():
        for entry in part.cache_files:
            stat = Path(entry["filename"]).stat()
            stats.append(f"{key}:{entry['filename']}:{stat.st_size}:{stat.st_mtime_ns}")
    return "|".join([column, *stats]) if stats else ""
