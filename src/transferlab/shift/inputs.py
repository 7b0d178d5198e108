"""The two sides of a shift measurement: loaded, checked, subsampled, labels on one class list.

A side is a bundled data set or a file (whatever :func:`transferlab.data.load_task` reads). Labels
are optional: a target without labels is the usual case (only the input tests and BBSE need no
target labels), and a source without them still gets the input tests. With ``label_column``
left out, the column ``label`` is used where a file has it. A label column asked for by name must
be in the source; the target may lack it (it is then unlabelled, and a note says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transferlab.data import DATASETS, TaskData, fingerprint_of, load_task, read_table, subsample, task_from_frame
from transferlab.data.loaders import features_array, require_columns
from transferlab.errors import InputError

DEFAULT_LABEL = "label"
_TABLES = (".csv", ".tsv", ".parquet", ".jsonl", ".json")


@dataclass(frozen=True)
class Side:
    """One sample: its task (labels are meaningless when ``labelled`` is false) and how many rows it had."""

    role: str  # "source" or "target"
    task: TaskData
    labelled: bool
    n_total: int


def load_side(
    dataset: str,
    role: str,
    text_column: str | None = None,
    label_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
) -> Side:
    """Load one side; a table without its label column becomes an unlabelled side where allowed."""
    columns = list(feature_columns or []) or [text_column or "text"]
    if dataset in DATASETS or Path(dataset).suffix.lower() not in _TABLES:
        task = load_task(dataset, label_column or DEFAULT_LABEL, text_column, feature_columns)
        return Side(role, task, True, len(task))
    frame = read_table(dataset)
    name = Path(dataset).name
    require_columns(frame, columns, name)
    label = label_column or DEFAULT_LABEL
    if label in frame.columns:
        task = task_from_frame(frame, name, label, None if feature_columns else columns[0], feature_columns)
        return Side(role, task, True, len(task))
    if label_column is not None and role == "source":
        require_columns(frame, [label_column], name)  # asked for by name: the source must have it
    inputs = frame[columns[0]].fillna("").astype(str).tolist() if not feature_columns else None
    if inputs is None:
        inputs = features_array(frame, columns, name)
    labels = np.zeros(len(frame), np.int64)
    modality = "features" if feature_columns else "text"
    task = TaskData(name, inputs, labels, ("?",), modality, fingerprint_of(inputs, labels, name + ":unlabelled"))
    return Side(role, task, False, len(task))


def subsample_side(side: Side, max_examples: int, seed: int) -> Side:
    """At most ``max_examples`` rows: stratified by class when labelled, uniform otherwise."""
    if len(side.task) <= max_examples:
        return side
    if side.labelled:
        return Side(side.role, subsample(side.task, max_examples, seed), True, side.n_total)
    rows = np.sort(np.random.default_rng(seed).choice(len(side.task), size=max_examples, replace=False))
    return Side(side.role, side.task.subset(rows, f"sub{max_examples}-{seed}"), False, side.n_total)


def shared_codes(source: Side, target: Side) -> tuple[np.ndarray | None, np.ndarray | None, list[str]]:
    """Both sides' labels as codes over one sorted list of class names (None for an unlabelled side)."""
    sides = [s for s in (source, target) if s.labelled]
    classes = sorted({c for s in sides for c in s.task.classes})
    index = {c: i for i, c in enumerate(classes)}

    def codes(side: Side) -> np.ndarray | None:
        if not side.labelled:
            return None
        lookup = np.array([index[c] for c in side.task.classes], np.int64)
        return np.asarray(lookup[side.task.labels], dtype=np.int64)

    return codes(source), codes(target), classes


def check_modalities(source: Side, target: Side, source_name: str) -> None:
    """Both sides hold the same kind of input, and a builtin source embeds that kind (checked before loading it)."""
    from transferlab.sources import SOURCES, load_builtin_sources
    from transferlab.sources.zoo_text import INFO

    if source.task.modality != target.task.modality:
        raise InputError(
            f"shift: the source data holds {source.task.modality} examples and the target {target.task.modality};"
            " fix: compare two samples of the same kind of input"
        )
    load_builtin_sources()
    if source_name not in SOURCES:
        raise InputError(f"shift: unknown source {source_name!r}; known sources: {', '.join(SOURCES.names())}")
    modality = INFO[source_name].modality if source_name in INFO else None
    if modality is not None and modality != source.task.modality:
        raise InputError(
            f"shift: source {source_name!r} embeds {modality} inputs but the data holds {source.task.modality}"
            f" examples; fix: pick a {source.task.modality} source (see `transferlab sources`)"
        )
