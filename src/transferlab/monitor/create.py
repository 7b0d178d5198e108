"""``init_monitor``: export a study's arm, build its reference profile, calibrate, and save the folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.monitor.alarms import calibrate_alarms, per_batch_level, policy_text
from transferlab.monitor.profile import (
    ARRAYS,
    FORMAT,
    HEADER,
    Profile,
    load_profile,
    reference_parts,
    reference_statistics,
    save_arrays,
)
from transferlab.sources.cache import EmbeddingCache


def init_monitor(
    run_dir: str | Path,
    arm: str,
    out: str | Path,
    seed: int | None = None,
    false_alarm_rate: float = 0.01,
    planned_batches: int | None = None,
    batch_size: int = 100,
    calibration_batches: int = 50,
    max_reference: int = 1000,
    random_state: int = 0,
    cache: EmbeddingCache | None = None,
) -> Profile:
    """Create a monitor folder for one arm of a finished study.

    Parameters
    ----------
    run_dir, arm, seed
        The study's run directory and the arm ``source/strategy/budget`` (its first seed by default).
    out : the monitor folder (new or empty).
    false_alarm_rate, planned_batches
        The false-alarm control (see :mod:`transferlab.monitor.alarms`).
    batch_size : the expected batch size: the calibration's pseudo-batches have it.
    calibration_batches : pseudo-batches run at calibration (0 skips it).
    max_reference : reference rows kept in all (the study's test set is subsampled beyond it).
    random_state, cache : seed of the split and calibration; the embedding cache.
    """
    from transferlab.study.export_arm import export_arm, save_arm

    level = per_batch_level(false_alarm_rate, planned_batches)
    _check_settings(batch_size, calibration_batches, max_reference)
    folder = _checked_out(out)
    export = export_arm(run_dir, arm, seed, cache)
    columns = _columns(export.task, export.split.test.modality)
    ref, cal = reference_parts(export.split.test.labels, max_reference, random_state)
    arrays = _arrays(export.test_features, export.split.test.labels, export.test_proba, ref, cal)
    classes = list(export.split.test.classes)
    if calibration_batches and batch_size > len(cal):
        raise InputError(
            f"--batch-size {batch_size} is larger than the calibration part ({len(cal)} examples, half the"
            f" study's test set); fix: give --batch-size {len(cal) // 2} or less, or --calibration-batches 0"
        )
    calibration = None
    if calibration_batches:
        parts = [arrays[k] for k in ("X_ref", "y_ref", "proba_ref", "X_cal", "y_cal", "proba_cal")]
        calibration = calibrate_alarms(
            *parts, classes, level, batch_size, calibration_batches, random_state=random_state
        )
    folder.mkdir(parents=True, exist_ok=True)
    save_arm(export, folder)
    save_arrays(folder, arrays)
    header = _header(export, columns, classes, arrays, level, false_alarm_rate, planned_batches, calibration)
    _write_header(folder, header)
    return load_profile(folder)


def _check_settings(batch_size: int, calibration_batches: int, max_reference: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 10:
        raise bad_parameter("monitor init", "batch_size", batch_size, "an integer >= 10")
    if isinstance(calibration_batches, bool) or not isinstance(calibration_batches, int) or calibration_batches < 0:
        raise bad_parameter("monitor init", "calibration_batches", calibration_batches, "an integer >= 0")
    if isinstance(max_reference, bool) or not isinstance(max_reference, int) or max_reference < 40:
        raise bad_parameter("monitor init", "max_reference", max_reference, "an integer >= 40")


def _checked_out(out: str | Path) -> Path:
    folder = Path(out).expanduser().resolve()
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        what = "a monitor folder" if (folder / HEADER).is_file() else "not an empty folder"
        raise InputError(f"--out {str(out)!r} is {what}; fix: give a new or empty folder for the monitor")
    return folder


def _columns(task: dict[str, Any], modality: str) -> dict[str, Any]:
    """The columns a batch must have: the study's input columns, and its label column (optional in a batch)."""
    if modality == "text":
        inputs = [task.get("text_column") or "text"]
    elif modality == "features" and task.get("feature_columns"):
        inputs = list(task["feature_columns"])
    else:
        raise InputError(
            f"monitor reads batches as tables of text or feature columns; this study's inputs are {modality}"
            " (no column names to check a batch against): monitor a text or feature-column study"
        )
    return {"inputs": inputs, "label": task.get("label_column") or "label", "modality": modality}


def _arrays(X: np.ndarray, y: np.ndarray, proba: np.ndarray, ref: np.ndarray, cal: np.ndarray) -> dict[str, np.ndarray]:
    X = np.asarray(X, np.float32)
    arrays = {"X_ref": X[ref], "y_ref": y[ref], "proba_ref": proba[ref]}
    arrays |= {"X_cal": X[cal], "y_cal": y[cal], "proba_cal": proba[cal]}
    arrays |= {"embedding_mean": X[ref].mean(axis=0), "embedding_std": X[ref].std(axis=0)}  # (d,), (d,)
    return {k: (v.astype(np.int64) if k.startswith("y_") else v) for k, v in arrays.items()}


def _header(
    export: Any,
    columns: dict[str, Any],
    classes: list[str],
    arrays: dict[str, np.ndarray],
    level: float,
    false_alarm_rate: float,
    planned_batches: int | None,
    calibration: dict[str, Any] | None,
) -> dict[str, Any]:
    alarms = {"false_alarm_rate": false_alarm_rate, "planned_batches": planned_batches, "level": level}
    alarms["policy"] = policy_text(false_alarm_rate, planned_batches)
    return {
        "format": FORMAT,
        "arm": export.describe(),
        "source": {**export.cell.source.model_dump(), "revision": export.source_revision},
        "classes": classes,
        "columns": columns,
        "alarms": alarms,
        "reference": reference_statistics(arrays, len(classes)),
        "calibration": calibration,
    }


def _write_header(folder: Path, header: dict[str, Any]) -> None:
    """``monitor.json`` last, with the checksums of the files written before it."""
    from transferlab.durable import sha256_file, write_atomic

    names = (ARRAYS, "head.safetensors", "head.json", "arm.json")
    header["checksums"] = {name: sha256_file(folder / name) for name in names}
    write_atomic(folder / HEADER, json.dumps(header, indent=2, default=str))
