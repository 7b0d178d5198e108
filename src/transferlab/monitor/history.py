"""The monitor's history: ``history.sqlite`` beside the profile, one row per checked batch.

Table ``batches`` (one row per batch, in the order checked):

==================================  ==========================================================
``seq``, ``batch_id``               order of checking; the batch's id (its file name), unique
``checked_at``, ``path``, ``n``     when (UTC, ISO 8601), from which file, how many examples
``level``, ``alert``, ``kind``      the per-batch level, 1 if the batch alerted, the diagnosed kind
``mmd2``, ``mmd_p``                 MMD² and its permutation p-value
``c2st_auc``, ``c2st_p``            domain-classifier AUC and its p-value
``priors_p``, ``conditional_p``     class-prior test, class-conditional MMD (NULL when not run)
``acc_<m>``, ``acc_<m>_lo/_hi``     each estimator ``m`` in confidence, atc, doc, iw, with interval
``iw_ess``                          the importance weights' effective sample size
``measured_accuracy``, ``_lo/_hi``  accuracy on the batch's labels (Wilson interval), when known
``labels_from``                     ``batch`` (a label column) or ``monitor label``
``predictions``                     the arm's predicted class codes, ``.npy`` bytes (no pickle)
``result``                          the whole check as JSON (what ``monitor check --json`` prints)
==================================  ==========================================================

View ``estimate_errors``: per labelled batch, each estimate minus the measured accuracy.

Each batch is one ``INSERT`` in one transaction, made after everything about it was computed,
and labels are one ``UPDATE``: a crash or an error at any point leaves either the whole row or
none (SQLite's journal; ``synchronous=FULL`` makes a committed row survive a power cut).
"""

from __future__ import annotations

import io
import json
import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.monitor.estimate import ESTIMATORS

_ESTIMATE_COLUMNS = [f"acc_{m}{s} REAL" for m in ESTIMATORS for s in ("", "_lo", "_hi")]
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    batch_id TEXT NOT NULL UNIQUE,
    checked_at TEXT NOT NULL,
    path TEXT,
    n INTEGER NOT NULL,
    level REAL NOT NULL,
    alert INTEGER NOT NULL,
    kind TEXT NOT NULL,
    mmd2 REAL, mmd_p REAL, c2st_auc REAL, c2st_p REAL, priors_p REAL, conditional_p REAL,
    {", ".join(_ESTIMATE_COLUMNS)},
    iw_ess REAL,
    measured_accuracy REAL, measured_lo REAL, measured_hi REAL, labels_from TEXT,
    predictions BLOB NOT NULL,
    result TEXT NOT NULL
);
CREATE VIEW IF NOT EXISTS estimate_errors AS SELECT seq, batch_id, measured_accuracy,
    {", ".join(f"acc_{m} - measured_accuracy AS error_{m}" for m in ESTIMATORS)}
    FROM batches WHERE measured_accuracy IS NOT NULL;
"""


class History:
    """The history of one monitor folder (use as a context manager, or call ``close``)."""

    def __init__(self, folder: Path) -> None:
        self.db = sqlite3.connect(Path(folder) / "history.sqlite", isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    def known(self, batch_ids: list[str]) -> list[str]:
        """The ids among ``batch_ids`` that are already recorded."""
        rows = self.db.execute("SELECT batch_id FROM batches").fetchall()
        recorded = {r["batch_id"] for r in rows}
        return [b for b in batch_ids if b in recorded]

    def add(self, result: dict[str, Any], predictions: np.ndarray) -> int:
        """Record one checked batch in one transaction; returns its ``seq``."""
        row = _row(result) | {"predictions": _npy(predictions), "result": json.dumps(result)}
        names = ", ".join(row)
        with self.db:
            cursor = self.db.execute(
                f"INSERT INTO batches ({names}) VALUES ({', '.join('?' * len(row))})", [*row.values()]
            )
        return int(cursor.lastrowid or 0)

    def count(self) -> int:
        return int(self.db.execute("SELECT COUNT(*) FROM batches").fetchone()[0])

    def predictions(self, batch_id: str) -> np.ndarray:
        row = self._row(batch_id)
        return np.load(io.BytesIO(row["predictions"]), allow_pickle=False)

    def set_measured(self, batch_id: str, measured: dict[str, Any], result: dict[str, Any]) -> None:
        """Record the accuracy measured on labels that arrived later (one transaction)."""
        with self.db:
            self.db.execute(
                "UPDATE batches SET measured_accuracy=?, measured_lo=?, measured_hi=?, labels_from=?, result=?"
                " WHERE batch_id=?",
                (measured["accuracy"], measured["lo"], measured["hi"], "monitor label", json.dumps(result), batch_id),
            )

    def results(self) -> list[dict[str, Any]]:
        """Every batch's full result, in the order checked."""
        return [json.loads(r["result"]) for r in self.db.execute("SELECT result FROM batches ORDER BY seq")]

    def result(self, batch_id: str) -> dict[str, Any]:
        return dict(json.loads(self._row(batch_id)["result"]))

    def _row(self, batch_id: str) -> sqlite3.Row:
        row = self.db.execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        if row is None:
            ids = [r["batch_id"] for r in self.db.execute("SELECT batch_id FROM batches ORDER BY seq DESC LIMIT 5")]
            raise InputError(f"no batch {batch_id!r} in the history; the latest: {ids or '(none)'}")
        return row


def _row(result: dict[str, Any]) -> dict[str, Any]:
    """The queryable columns of a check's result."""
    tests = result["tests"]
    row: dict[str, Any] = {
        "batch_id": result["batch_id"],
        "checked_at": result["checked_at"],
        "path": result.get("path"),
        "n": result["n"],
        "level": result["level"],
        "alert": int(result["alert"]),
        "kind": result["diagnosis"]["kind"],
        "mmd2": tests["mmd"]["statistic"],
        "mmd_p": tests["mmd"]["p_value"],
        "c2st_auc": tests["c2st"]["auc"],
        "c2st_p": tests["c2st"]["p_value"],
        "priors_p": (tests.get("class_priors") or {}).get("p_value"),
        "conditional_p": (tests.get("class_conditional") or {}).get("p_value"),
    }
    for e in result["estimates"]:
        row |= {f"acc_{e['method']}": e["accuracy"], f"acc_{e['method']}_lo": e["lo"], f"acc_{e['method']}_hi": e["hi"]}
        if e["method"] == "iw":
            row["iw_ess"] = e["effective_sample_size"]
    measured = result.get("measured")
    if measured is not None:
        row |= {"measured_accuracy": measured["accuracy"], "measured_lo": measured["lo"], "measured_hi": measured["hi"]}
        row["labels_from"] = measured["labels_from"]
    return row


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, dtype=np.int32), allow_pickle=False)
    return buffer.getvalue()
