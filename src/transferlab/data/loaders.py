"""Read a labelled task from CSV, Parquet, JSONL, numpy files or a DataFrame.

Every check here is a boundary check: a bad file fails with one line that says what was
expected, what was found and how to fix it (:class:`InputError`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from transferlab.data.task import TaskData, fingerprint_of
from transferlab.errors import InputError

READERS = {".csv": "csv", ".tsv": "tsv", ".parquet": "parquet", ".jsonl": "jsonl", ".json": "jsonl"}


def read_table(path: str | Path) -> pd.DataFrame:
    """A data file as a DataFrame; unreadable, unknown or empty files raise :class:`InputError`."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"data file {str(path)!r} does not exist; give a bundled name or a path to a file")
    kind = READERS.get(path.suffix.lower())
    if kind is None:
        raise InputError(f"data file {path.name!r} has an unknown extension; expected one of {sorted(READERS)}")
    try:
        frame = _read(path, kind)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read {path.name} as {kind}: {str(exc).splitlines()[0]}") from exc
    if frame.empty:
        raise InputError(f"data file {path.name!r} is empty; expected a header row and labelled examples")
    return frame


def _read(path: Path, kind: str) -> pd.DataFrame:
    if kind == "parquet":
        return pd.read_parquet(path)
    if kind == "jsonl":
        return pd.read_json(path, lines=True)
    try:
        return pd.read_csv(path, sep="\t" if kind == "tsv" else ",")
    except pd.errors.EmptyDataError:
        return pd.DataFrame()


def task_from_frame(
    frame: pd.DataFrame,
    name: str,
    label_column: str = "label",
    text_column: str | None = None,
    feature_columns: Sequence[str] | None = None,
    domain_column: str | None = None,
) -> TaskData:
    """A :class:`TaskData` from the given columns of ``frame`` (text or numeric features)."""
    wanted = [label_column] + ([text_column] if text_column else []) + list(feature_columns or [])
    require_columns(frame, wanted, name)
    frame = frame.dropna(subset=[label_column])
    labels, classes = encode_labels(frame[label_column].to_numpy(), name)
    domains = frame[domain_column].astype(str).to_numpy() if domain_column else None
    if text_column:
        inputs: list[str] | np.ndarray = frame[text_column].fillna("").astype(str).tolist()
        modality = "text"
    else:
        inputs = features_array(frame, list(feature_columns or []), name)
        modality = "features"
    return TaskData(name, inputs, labels, classes, modality, fingerprint_of(inputs, labels, name), domains)


def require_columns(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    """Raise :class:`InputError` naming the first missing column and the columns present."""
    for column in columns:
        if column not in frame.columns:
            present = ", ".join(map(str, frame.columns[:20]))
            raise InputError(f"{name}: no column {column!r}; the columns are: {present}")


def encode_labels(raw: np.ndarray, name: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Integer labels and sorted class names; fewer than two classes is an error."""
    names = np.array([str(x) for x in raw])
    classes, labels = np.unique(names, return_inverse=True)
    if len(classes) < 2:
        found = f"only {str(classes[0])!r}" if len(classes) else "no labels"
        raise InputError(f"{name}: a classification task needs at least 2 classes, found {found}")
    return labels.astype(np.int64), tuple(str(c) for c in classes)


def features_array(frame: pd.DataFrame, columns: list[str], name: str) -> np.ndarray:
    """Numeric feature columns as float32 ``(n, d)``; NaN or infinite values are an error."""
    if not columns:
        raise InputError(f"{name}: give text_column, image_column or feature_columns")
    try:
        values = frame[columns].to_numpy(dtype=np.float64)
    except ValueError as exc:
        raise InputError(f"{name}: feature columns must be numeric ({str(exc).splitlines()[0]})") from exc
    check_finite(values, name)
    return values.astype(np.float32)


def check_finite(values: np.ndarray, name: str) -> None:
    """Raise :class:`InputError` at the first row with NaN or infinite values."""
    bad = ~np.isfinite(values.reshape(len(values), -1)).all(axis=1)
    if bad.any():
        raise InputError(
            f"{name}: {int(bad.sum())} rows have NaN or infinite features (first: row {int(np.argmax(bad))});"
            " drop or impute them first"
        )


def task_from_arrays(inputs: np.ndarray, labels: np.ndarray, name: str = "arrays") -> TaskData:
    """A task from numpy arrays: ``(n, d)`` features, or ``(n, H, W[, C])`` images."""
    inputs = np.asarray(inputs)
    if inputs.ndim < 2 or len(inputs) != len(labels):
        raise InputError(
            f"{name}: expected inputs of shape (n, d) or (n, H, W[, C]) with n = len(labels) = {len(labels)},"
            f" got shape {inputs.shape}"
        )
    check_finite(inputs.astype(np.float64), name)
    encoded, classes = encode_labels(np.asarray(labels), name)
    modality = "features" if inputs.ndim == 2 else "image"
    return TaskData(name, inputs, encoded, classes, modality, fingerprint_of(inputs, encoded, name))


def task_from_npz(path: str | Path, name: str | None = None) -> TaskData:
    """A task from an ``.npz`` holding arrays ``X`` (or ``inputs``) and ``y`` (or ``labels``)."""
    with np.load(path, allow_pickle=False) as archive:
        keys = set(archive.files)
        x_key = "X" if "X" in keys else "inputs"
        y_key = "y" if "y" in keys else "labels"
        if x_key not in keys or y_key not in keys:
            raise InputError(f"{path}: expected arrays 'X' and 'y' in the .npz, found {sorted(keys)}")
        return task_from_arrays(archive[x_key], archive[y_key], name or Path(path).stem)
