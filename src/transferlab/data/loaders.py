"""Read a labelled task from CSV, Parquet, JSONL, numpy files or a DataFrame.

Every check here is a boundary check: a bad file fails with one line that says what was
expected, what was found and how to fix it (:class:`InputError`).
"""

from __future__ import annotations

import re
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from transferlab.data.task import TaskData, fingerprint_of
from transferlab.errors import DataWarning, InputError

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
    except UnicodeDecodeError as exc:
        raise InputError(
            f"{path.name} is not UTF-8 text (it holds the byte {exc.object[exc.start]:#04x}); re-save it as"
            f" UTF-8, e.g. `iconv -f latin1 -t utf-8 {path.name} > utf8-{path.name}`"
        ) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputError(f"cannot read {path.name} as {kind}: {_parser_message(str(exc))}") from None
    if frame.empty:
        raise InputError(f"data file {path.name!r} is empty; expected a header row and labelled examples")
    if kind in ("csv", "tsv"):
        _check_delimited(frame, path.name, kind)
    return frame


def _parser_message(text: str) -> str:
    """pandas' tokenizer error, said as which line has how many fields."""
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if found is None:
        return text.splitlines()[0] if text else "unreadable"
    header, line, fields = found.groups()
    return f"line {line} has {fields} fields but the header has {header}; {QUOTE_HINT}"


QUOTE_HINT = 'quote values that hold the separator ("a, b"), or fix that line'


def _check_delimited(frame: pd.DataFrame, name: str, kind: str) -> None:
    """Catch what pandas reads without an error but wrongly: extra fields in row 1, a wrong separator."""
    if not isinstance(frame.index, pd.RangeIndex):  # pandas turned the extra leading fields into an index
        fields = len(frame.columns) + frame.index.nlevels
        raise InputError(f"{name}: line 2 has {fields} fields but the header has {len(frame.columns)}; {QUOTE_HINT}")
    if len(frame.columns) == 1:
        header = str(frame.columns[0])
        for separator, hint in ((";", "save it with ',' separators"), ("\t", "name it .tsv"), (",", "name it .csv")):
            if separator in header and separator != SEPARATORS[kind]:
                raise InputError(
                    f"{name}: one column {header[:60]!r} was read: the file looks separated by {separator!r},"
                    f" not {SEPARATORS[kind]!r}; {hint}"
                )


SEPARATORS = {"csv": ",", "tsv": "\t"}


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
    require_columns(frame, wanted + ([domain_column] if domain_column else []), name)
    frame = drop_unlabelled(frame, label_column, name)
    labels, classes = encode_labels(frame[label_column].to_numpy(), name)
    domains = frame[domain_column].astype(str).to_numpy() if domain_column else None
    if text_column:
        inputs: list[str] | np.ndarray = frame[text_column].fillna("").astype(str).tolist()
        modality = "text"
    else:
        inputs = features_array(frame, list(feature_columns or []), name)
        modality = "features"
    return TaskData(name, inputs, labels, classes, modality, fingerprint_of(inputs, labels, name), domains)


def drop_unlabelled(frame: pd.DataFrame, label_column: str, name: str) -> pd.DataFrame:
    """The rows with a label; says how many were left out (a :class:`DataWarning`), never silently."""
    missing = int(frame[label_column].isna().sum())
    if missing:
        warnings.warn(
            f"{name}: {missing} of {len(frame)} rows have no {label_column!r} and were left out",
            DataWarning,
            stacklevel=2,
        )
    return frame.dropna(subset=[label_column])


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
    """A task from an ``.npz`` holding arrays ``X`` (or ``inputs``) and ``y`` (or ``labels``).

    Never unpickles: a pickled file or an object array inside the archive is refused, as loading
    it could run code (``allow_pickle=False``).
    """
    if not Path(path).is_file():
        raise InputError(f"data file {str(path)!r} does not exist; give a bundled name or a path to a file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            keys = set(archive.files)
            x_key = "X" if "X" in keys else "inputs"
            y_key = "y" if "y" in keys else "labels"
            if x_key not in keys or y_key not in keys:
                raise InputError(f"{path}: expected arrays 'X' and 'y' in the .npz, found {sorted(keys)}")
            X, y = archive[x_key], archive[y_key]
    except InputError:
        raise
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if "pickle" in reason.lower() or "object arrays" in reason.lower():
            reason = "it holds pickled or object data, which is never loaded: unpickling can run code"
        raise InputError(
            f"{path}: not a .npz of plain arrays ({reason}); save numeric X and string or integer y with np.savez"
        ) from None
    return task_from_arrays(X, y, name or Path(path).stem)
