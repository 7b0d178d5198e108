"""The reference profile: what a batch is compared with, saved beside the arm's exported head.

A monitor folder holds

* ``head.safetensors`` + ``head.json`` + ``arm.json``: the arm (:mod:`transferlab.study.export_arm`);
* ``reference.safetensors``: the reference data, split in two parts (see below): embeddings
  ``X_ref`` / ``X_cal`` ``(n, d)``, labels ``y_ref`` / ``y_cal`` and the arm's probabilities
  ``proba_ref`` / ``proba_cal`` ``(n, C)``, plus the reference embeddings' mean and spread;
* ``monitor.json``: the header. The source (name, parameters, weights revision), the classes and
  the input columns, the alarm settings, the reference statistics (accuracy with its interval,
  class priors, the confidence distribution, the ATC threshold, DoC's reference confidence),
  the calibration, and the sha256 of the other files. It is written last, so its presence
  says the folder is complete; a file that no longer matches its checksum is refused.

The reference is the study's test set: labelled, and never seen by the arm's fit. It is split,
stratified by class, into a **reference part** (every batch's shift tests and every estimator's
reference quantities) and a **calibration part** (pseudo-batches that measure the false-alarm
rate and the estimators' error without reusing the rows the statistics came from).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.study.heads import Head

HEADER = "monitor.json"
ARRAYS = "reference.safetensors"
HISTORY = "history.sqlite"
FORMAT = 1
ARRAY_NAMES = ("X_ref", "y_ref", "proba_ref", "X_cal", "y_cal", "proba_cal")


@dataclass
class Profile:
    """A loaded monitor folder: header, reference arrays and the arm's head."""

    folder: Path
    header: dict[str, Any]
    arrays: dict[str, np.ndarray] = field(repr=False)
    head: Head = field(repr=False)

    @property
    def classes(self) -> list[str]:
        return list(self.header["classes"])

    @property
    def level(self) -> float:
        return float(self.header["alarms"]["level"])

    @property
    def input_columns(self) -> list[str]:
        return list(self.header["columns"]["inputs"])

    @property
    def label_column(self) -> str:
        return str(self.header["columns"]["label"])

    @property
    def reference_correct(self) -> np.ndarray:
        """Whether the arm was right on each reference-part example ``(n_ref,)``."""
        return np.asarray(self.arrays["proba_ref"].argmax(axis=1) == self.arrays["y_ref"])


def reference_parts(labels: np.ndarray, max_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Row indices of the reference and calibration parts: a stratified half each, at most ``max_rows`` in all."""
    from sklearn.model_selection import train_test_split

    rows = np.arange(len(labels))
    rng = np.random.default_rng(seed)
    if len(rows) > max_rows:
        rows = np.sort(rng.choice(rows, size=max_rows, replace=False))
    counts = np.bincount(labels[rows])
    stratify = labels[rows] if counts[counts > 0].min() >= 2 else None
    ref, cal = train_test_split(rows, test_size=0.5, stratify=stratify, random_state=seed)
    return np.sort(ref), np.sort(cal)


def reference_statistics(arrays: dict[str, np.ndarray], n_classes: int) -> dict[str, Any]:
    """Accuracy (Wilson interval), class priors, confidence deciles, ATC threshold, DoC's reference confidence."""
    from transferlab.metrics.shift_inputs import wilson_interval
    from transferlab.monitor.estimate import atc_threshold, negative_entropy, top_confidence

    proba, y = arrays["proba_ref"], arrays["y_ref"]
    correct = proba.argmax(axis=1) == y
    lo, hi = wilson_interval(int((~correct).sum()), len(y))
    confidence = top_confidence(proba)
    return {
        "n_reference": int(len(y)),
        "n_calibration": int(len(arrays["y_cal"])),
        "accuracy": float(correct.mean()),
        "accuracy_lo": 1.0 - hi,
        "accuracy_hi": 1.0 - lo,
        "class_priors": (np.bincount(y, minlength=n_classes) / len(y)).tolist(),
        "confidence_deciles": np.quantile(confidence, np.linspace(0, 1, 11)).tolist(),
        "mean_confidence": float(confidence.mean()),
        "atc_threshold": atc_threshold(negative_entropy(proba), correct),
    }


def save_arrays(folder: Path, arrays: dict[str, np.ndarray]) -> None:
    """The reference arrays as one safetensors file (written to a temporary name, then renamed)."""
    from safetensors.numpy import save_file

    tmp = folder / f".{ARRAYS}.tmp"
    save_file({k: np.ascontiguousarray(v) for k, v in arrays.items()}, str(tmp))
    tmp.replace(folder / ARRAYS)


def load_profile(folder: str | Path) -> Profile:
    """A monitor folder written by ``monitor init``; anything else, or a damaged one, is one line."""
    from safetensors.numpy import load_file

    path = Path(folder).expanduser().resolve()
    header = _read_header(path)
    _check_files(path, header)
    try:
        arrays = load_file(str(path / ARRAYS))
    except (OSError, ValueError) as exc:
        raise _damaged(path, f"{ARRAYS} unreadable ({type(exc).__name__})") from None
    missing = [n for n in ARRAY_NAMES if n not in arrays]
    if missing:
        raise _damaged(path, f"{ARRAYS} lacks {missing}")
    return Profile(path, header, dict(arrays), Head.load(path))


def _read_header(path: Path) -> dict[str, Any]:
    if not (path / HEADER).is_file():
        raise InputError(
            f"{str(path)!r} is not a monitor folder (no {HEADER}); fix: create one with"
            " `transferlab monitor init --run RUN_DIR --arm SOURCE/STRATEGY/BUDGET --out FOLDER`"
        )
    try:
        header = json.loads((path / HEADER).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise _damaged(path, f"{HEADER} is not readable JSON ({type(exc).__name__})") from None
    keys = ("format", "classes", "columns", "alarms", "source", "checksums", "reference")
    if not isinstance(header, dict) or any(k not in header for k in keys):
        raise _damaged(path, f"{HEADER} lacks the keys a profile has")
    if header["format"] != FORMAT:
        raise InputError(f"{str(path)!r}: profile format {header['format']!r}, this version reads {FORMAT}; re-init")
    return header


def _check_files(path: Path, header: dict[str, Any]) -> None:
    from transferlab.durable import sha256_file

    for name, digest in header["checksums"].items():
        file = path / name
        if not file.is_file():
            raise _damaged(path, f"{name} is missing")
        if sha256_file(file) != digest:
            raise _damaged(path, f"{name} does not match its checksum")


def _damaged(path: Path, what: str) -> InputError:
    return InputError(
        f"monitor folder {str(path)!r} is damaged: {what}; fix: run `transferlab monitor init` again into a new"
        " folder (the history, if any, can be kept by copying history.sqlite)"
    )
