"""Check batches against a monitor's profile, and record labels that arrive later.

:func:`check_features` is the computation on arrays (shift tests, diagnosis, estimates, alert,
remedies). :func:`check_batch` and :func:`check_batches` read and check the batches, embed them
with the arm's source (through the embedding cache), and record each in the history.
:func:`label_batch` adds labels to a recorded batch. Every input is checked before anything is
embedded or written; each batch's row is written whole after its result is complete.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transferlab.data import TaskData, fingerprint_of, read_table
from transferlab.errors import InputError
from transferlab.metrics.shift_inputs import wilson_interval
from transferlab.monitor.alarms import is_alert
from transferlab.monitor.batch_tests import shift_tests
from transferlab.monitor.batches import Batch, batch_from_frame, read_batches
from transferlab.monitor.estimate import estimate_accuracy
from transferlab.monitor.history import History
from transferlab.monitor.profile import Profile, load_profile
from transferlab.monitor.remedies import suggest_remedies, write_remedy_specs
from transferlab.sources.cache import EmbeddingCache


def check_features(
    profile: Profile,
    X_batch: np.ndarray,
    y_batch: np.ndarray | None = None,
    batch_id: str = "batch",
    n_permutations: int = 500,
    n_boot: int = 500,
    random_state: int = 0,
) -> dict[str, Any]:
    """The check of one embedded batch ``(n, d)``: tests, diagnosis, estimates, alert, measured accuracy.

    ``y_batch`` (codes over the profile's classes) are labels that came with the batch.
    """
    a = profile.arrays
    proba = profile.head.predict_proba(X_batch)  # (n, C)
    tests = shift_tests(
        a["X_ref"], a["y_ref"], a["proba_ref"], X_batch, proba, y_batch, profile.classes, profile.level,
        n_permutations, n_boot, random_state,
    )  # fmt: skip
    estimates = estimate_accuracy(
        a["proba_ref"], profile.reference_correct, proba, a["X_ref"], X_batch, n_boot, random_state=random_state
    )
    diagnosis = tests.pop("diagnosis")
    result: dict[str, Any] = {
        "batch_id": batch_id,
        "checked_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "n": len(X_batch),
        "level": profile.level,
        "alert": is_alert({"diagnosis": diagnosis}),
        "diagnosis": diagnosis,
        "tests": tests,
        "estimates": [e.to_dict() for e in estimates],
        "reference_accuracy": profile.header["reference"]["accuracy"],
        "predicted_priors": (np.bincount(proba.argmax(axis=1), minlength=len(profile.classes)) / len(proba)).tolist(),
        "measured": None if y_batch is None else measured_accuracy(proba.argmax(axis=1), y_batch, "batch"),
    }
    return result


def measured_accuracy(predictions: np.ndarray, labels: np.ndarray, labels_from: str) -> dict[str, Any]:
    """Accuracy on labels with its Wilson interval (95 %)."""
    wrong = int(np.sum(np.asarray(predictions) != np.asarray(labels)))
    lo, hi = wilson_interval(wrong, len(labels))
    return {
        "accuracy": 1.0 - wrong / len(labels),
        "lo": 1.0 - hi,
        "hi": 1.0 - lo,
        "n": int(len(labels)),
        "labels_from": labels_from,
    }


def check_batch(
    monitor: str | Path | Profile,
    batch: str | Path | pd.DataFrame,
    batch_id: str | None = None,
    cache: EmbeddingCache | None = None,
    **settings: Any,
) -> dict[str, Any]:
    """Check one batch (a file, or a DataFrame for a serving process) and record it; returns its result."""
    profile = monitor if isinstance(monitor, Profile) else load_profile(monitor)
    if isinstance(batch, pd.DataFrame):
        checked = [batch_from_frame(profile, batch, batch_id or _default_id())]
    else:
        checked = read_batches(profile, batch)
        if len(checked) != 1:
            raise InputError(f"{str(batch)!r} is a folder of {len(checked)} batches; use check_batches")
        if batch_id is not None:
            checked = [Batch(batch_id, checked[0].inputs, checked[0].labels, checked[0].path)]
    return _check_all(profile, checked, cache, settings)[0]


def check_batches(
    monitor: str | Path | Profile, path: str | Path, cache: EmbeddingCache | None = None, **settings: Any
) -> list[dict[str, Any]]:
    """Check a batch file or every batch file of a folder (name order); every file is checked first."""
    profile = monitor if isinstance(monitor, Profile) else load_profile(monitor)
    return _check_all(profile, read_batches(profile, path), cache, settings)


def label_batch(monitor: str | Path, batch_id: str, labels: str | Path, column: str | None = None) -> dict[str, Any]:
    """Record labels that arrived after a batch was checked: measured accuracy and each estimate's error."""
    profile = load_profile(monitor)
    column = column or profile.label_column
    frame = read_table(labels)
    if column not in frame.columns:
        raise InputError(f"--labels {str(labels)!r} has no column {column!r}; its columns: {list(frame.columns)[:10]}")
    with History(profile.folder) as history:
        predictions, result = history.predictions(batch_id), history.result(batch_id)
        if len(frame) != len(predictions):
            raise InputError(
                f"--labels {str(labels)!r} has {len(frame)} rows, batch {batch_id!r} had {len(predictions)};"
                " fix: one label per batch row, in the batch's order"
            )
        codes = batch_from_frame(profile, _with_dummy_inputs(profile, frame, column), batch_id).labels
        assert codes is not None  # the frame has the label column
        result["measured"] = measured_accuracy(predictions, codes, "monitor label")
        result["errors"] = estimate_errors(result)
        history.set_measured(batch_id, result["measured"], result)
    return result


def estimate_errors(result: dict[str, Any]) -> dict[str, float]:
    """Each estimate minus the measured accuracy."""
    measured = result["measured"]["accuracy"]
    return {e["method"]: e["accuracy"] - measured for e in result["estimates"]}


def _check_all(
    profile: Profile, batches: list[Batch], cache: EmbeddingCache | None, settings: dict[str, Any]
) -> list[dict[str, Any]]:
    from transferlab.sources import create_source

    ids = [b.batch_id for b in batches]
    if len(set(ids)) < len(ids):
        raise InputError(f"batch ids repeat in {ids[:10]}; fix: give each batch file its own name")
    with History(profile.folder) as history:
        known = history.known(ids)
        if known:
            raise InputError(f"batch {known[0]!r} is already in the history; fix: give the batch another id or name")
        source = create_source(profile.header["source"]["name"], **profile.header["source"]["params"])
        _check_revision(profile, source)
        cache = cache or EmbeddingCache()
        results = []
        for batch in batches:
            X = cache.get(source, _task(batch, source.modality))
            result = check_features(profile, X, batch.labels, batch.batch_id, **settings)
            result["path"] = batch.path
            result |= _sequence_note(profile, history.count() + 1)
            result["remedies"] = suggest_remedies(profile, result)
            if result["measured"] is not None:
                result["errors"] = estimate_errors(result)
            history.add(result, profile.head.predict_proba(X).argmax(axis=1))
            write_remedy_specs(result)  # after the row: a failure here leaves the batch recorded, not half-done
            results.append(result)
    return results


def _task(batch: Batch, modality: str) -> TaskData:
    labels = np.zeros(len(batch), np.int64)
    fingerprint = fingerprint_of(batch.inputs, labels, "monitor-batch")
    return TaskData(batch.batch_id, batch.inputs, labels, ("?",), modality, fingerprint)


def _check_revision(profile: Profile, source: Any) -> None:
    recorded = profile.header["source"]["revision"]
    if source.revision != recorded:
        raise InputError(
            f"source {source.name!r} has weights {source.revision} here, the monitored arm was fitted on {recorded};"
            " fix: install the model version the study used, or init a monitor for a study run with these weights"
        )


def _sequence_note(profile: Profile, position: int) -> dict[str, Any]:
    planned = profile.header["alarms"]["planned_batches"]
    note = None
    if planned is not None and position > planned:
        note = f"batch {position} is past the {planned} planned: the family-wise guarantee covers the first {planned}"
    return {"position": position, "sequence_note": note}


def _with_dummy_inputs(profile: Profile, frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """The label column under the profile's label name, with placeholder inputs, to reuse the batch checks."""
    filler = "" if profile.header["columns"]["modality"] == "text" else 0.0
    return pd.DataFrame({**{c: filler for c in profile.input_columns}, profile.label_column: frame[column].to_numpy()})


def _default_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("batch-%Y%m%dT%H%M%S%f")
