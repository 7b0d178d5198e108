"""Batches of traffic: read from a file, a folder of files (in name order) or a DataFrame, and checked.

A batch must have exactly the reference's input columns, and may have its label column (labels
that arrived with the batch). Everything is checked before anything is embedded or written: for a
folder, every file is read and checked first, so one bad file stops the whole command with one
line and no batch of it is recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from transferlab.data import read_table
from transferlab.data.loaders import READERS, features_array
from transferlab.errors import InputError
from transferlab.monitor.profile import Profile

# The two-sample tests need a few examples per side to say anything; a single example has no
# distribution to compare.
MIN_BATCH = 10


@dataclass(frozen=True)
class Batch:
    """One checked batch: its id, inputs (texts or features ``(n, d)``), label codes if it had them."""

    batch_id: str
    inputs: list[str] | np.ndarray
    labels: np.ndarray | None  # (n,) codes over the profile's classes
    path: str | None

    def __len__(self) -> int:
        return len(self.inputs)


def read_batches(profile: Profile, path: str | Path) -> list[Batch]:
    """A file, or every table file of a folder in name order, each checked against the profile."""
    path = Path(path).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in READERS)
        if not files:
            raise InputError(f"--batch {str(path)!r} holds no batch files; expected .csv / .tsv / .parquet / .jsonl")
        return [read_batch(profile, f) for f in files]
    return [read_batch(profile, path)]


def read_batch(profile: Profile, path: str | Path, batch_id: str | None = None) -> Batch:
    """One batch file (its id is the file name without extension unless given)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"--batch {str(path)!r} does not exist; give a batch file or a folder of them")
    try:
        frame = read_table(path)
    except InputError as exc:
        if "is empty" in str(exc):
            raise InputError(
                f"batch {path.name!r} is empty; expected a header row and at least {MIN_BATCH} rows"
            ) from None
        raise
    return batch_from_frame(profile, frame, batch_id or path.stem, str(path.resolve()))


def batch_from_frame(profile: Profile, frame: pd.DataFrame, batch_id: str, path: str | None = None) -> Batch:
    """A checked batch from a DataFrame (the serving-process path: no file needed)."""
    name = f"batch {batch_id!r}"
    _check_columns(profile, frame, name)
    if len(frame) < MIN_BATCH:
        raise InputError(
            f"{name} has {len(frame)} example(s); the shift tests and estimates need at least {MIN_BATCH}:"
            " fix: gather more traffic into one batch"
        )
    inputs: list[str] | np.ndarray
    if profile.header["columns"]["modality"] == "text":
        inputs = frame[profile.input_columns[0]].fillna("").astype(str).tolist()
    else:
        inputs = features_array(frame, profile.input_columns, name)
    labels = _labels(profile, frame, name) if profile.label_column in frame.columns else None
    return Batch(str(batch_id), inputs, labels, path)


def _check_columns(profile: Profile, frame: pd.DataFrame, name: str) -> None:
    expected = [*profile.input_columns, profile.label_column]
    extra = [str(c) for c in frame.columns if c not in expected]
    missing = [c for c in profile.input_columns if c not in frame.columns]
    if extra or missing:
        found = ", ".join(map(str, frame.columns[:12]))
        raise InputError(
            f"{name} has other columns than the reference: expected {profile.input_columns} (and optionally"
            f" {profile.label_column!r}), found {found}; fix: keep only those columns"
        )


def _labels(profile: Profile, frame: pd.DataFrame, name: str) -> np.ndarray:
    """Label codes over the profile's classes; every row labelled, every label a known class."""
    column = frame[profile.label_column]
    if column.isna().any():
        raise InputError(
            f"{name}: {int(column.isna().sum())} of {len(frame)} rows have no {profile.label_column!r}; fix: label"
            " every row or drop the column (labels can be added later with `transferlab monitor label`)"
        )
    index = {c: i for i, c in enumerate(profile.classes)}
    values = column.astype(str).tolist()
    unknown = sorted({v for v in values if v not in index})
    if unknown:
        raise InputError(f"{name}: labels {unknown[:5]} are not classes of the arm; its classes: {profile.classes}")
    return np.array([index[v] for v in values], dtype=np.int64)
