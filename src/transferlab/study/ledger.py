"""The run's ledger: one SQLite file (WAL), written only by the driver process.

A cell row moves pending -> running -> done | failed. ``running`` rows found at start-up
belong to a run that was killed: they are run again from scratch. ``done`` rows are never
run again. Each transition is one short transaction, so a kill at any moment leaves a
consistent file.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS cells (
    key TEXT PRIMARY KEY,
    source TEXT NOT NULL,
    strategy TEXT NOT NULL,
    budget INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    role TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending',
    error TEXT,
    metrics TEXT,
    cost TEXT,
    file TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started REAL,
    finished REAL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Ledger:
    """Cell states and results of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def close(self) -> None:
        self.db.close()

    def add_cells(self, rows: list[dict[str, Any]]) -> None:
        """Insert planned cells; cells already known (same key) keep their state."""
        with self.db:
            self.db.executemany(
                "INSERT OR IGNORE INTO cells (key, source, strategy, budget, seed, role, payload)"
                " VALUES (:key, :source, :strategy, :budget, :seed, :role, :payload)",
                rows,
            )

    def status(self, key: str) -> str | None:
        row = self.db.execute("SELECT status FROM cells WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["status"])

    def mark_running(self, key: str) -> None:
        self.db.execute(
            "UPDATE cells SET status='running', attempts=attempts+1, started=?, error=NULL WHERE key=?",
            (time.time(), key),
        )

    def mark_done(self, key: str, metrics: dict[str, float], cost: dict[str, float], file: str) -> None:
        self.db.execute(
            "UPDATE cells SET status='done', metrics=?, cost=?, file=?, finished=? WHERE key=?",
            (json.dumps(metrics), json.dumps(cost), file, time.time(), key),
        )

    def mark_failed(self, key: str, error: str) -> None:
        self.db.execute("UPDATE cells SET status='failed', error=?, finished=? WHERE key=?", (error, time.time(), key))

    def counts(self) -> dict[str, int]:
        rows = self.db.execute("SELECT status, COUNT(*) AS n FROM cells GROUP BY status").fetchall()
        return {str(r["status"]): int(r["n"]) for r in rows}

    def rows(self, keys: list[str] | None = None) -> list[dict[str, Any]]:
        """All cell rows (or those with ``keys``) as dicts, metrics and cost decoded."""
        rows = [dict(r) for r in self.db.execute("SELECT * FROM cells ORDER BY source, strategy, budget, seed")]
        if keys is not None:
            wanted = set(keys)
            rows = [r for r in rows if r["key"] in wanted]
        for row in rows:
            row["metrics"] = json.loads(row["metrics"]) if row["metrics"] else {}
            row["cost"] = json.loads(row["cost"]) if row["cost"] else {}
        return rows

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])
