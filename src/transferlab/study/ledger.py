"""The run's ledger: one SQLite file (WAL), written only by the driver process.

A cell row moves pending -> running -> done | failed. ``running`` means a worker has started
the cell (not that it was queued). ``running`` rows found at start-up belong to a run that was
killed: they are run again from scratch. ``done`` rows are never run again while their cell
file matches the sha256 recorded here; a missing or damaged file puts the row back to
``pending``. ``failed`` rows are run again only when asked (``--retry-failed``). Each
transition is one short transaction, and ``synchronous=FULL`` makes each one durable before
the driver goes on: a kill, or a power cut, at any moment leaves a consistent file whose
``done`` rows all point at files that were flushed to disk before the row was written.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
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
    health TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started REAL,
    finished REAL,
    sha256 TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan (key TEXT PRIMARY KEY) WITHOUT ROWID;
"""
# `transferlab status` counts by status and averages the durations of finished cells: a covering
# index answers both without reading the rows (under a second on 100,000 cells)
INDEXES = "CREATE INDEX IF NOT EXISTS cells_by_status ON cells (status, started, finished);"


class Ledger:
    """Cell states and results of one run directory."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a cell marked done must stay done after a power cut, because resume trusts it; the
        # cost (one fsync of the WAL per transition) is nothing next to a cell's run time
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        columns = {r["name"] for r in self.db.execute("PRAGMA table_info(cells)")}
        for column in ("health", "sha256"):  # a ledger written before these columns existed
            if column not in columns:
                self.db.execute(f"ALTER TABLE cells ADD COLUMN {column} TEXT")
        self.db.executescript(INDEXES)

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """One explicit transaction (the connection autocommits each statement otherwise: with
        ``synchronous=FULL`` that would be one fsync per row of a 100,000-cell insert)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def add_cells(self, rows: list[dict[str, Any]]) -> None:
        """Insert planned cells; cells already known (same key) keep their state."""
        with self.transaction():
            self.db.executemany(
                "INSERT OR IGNORE INTO cells (key, source, strategy, budget, seed, role, payload)"
                " VALUES (:key, :source, :strategy, :budget, :seed, :role, :payload)",
                rows,
            )

    def set_plan(self, keys: list[str]) -> None:
        """The cells the current spec plans (a ledger also keeps cells of earlier versions of a spec)."""
        with self.transaction():
            self.db.execute("DELETE FROM plan")
            self.db.executemany("INSERT OR IGNORE INTO plan (key) VALUES (?)", ((k,) for k in keys))

    def status(self, key: str) -> str | None:
        row = self.db.execute("SELECT status FROM cells WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["status"])

    def statuses(self) -> dict[str, str]:
        """{key: status} of every cell, in one query."""
        return {str(r["key"]): str(r["status"]) for r in self.db.execute("SELECT key, status FROM cells")}

    def done_files(self) -> list[tuple[str, str | None, str | None]]:
        """(key, cell file, recorded sha256) of every finished cell."""
        rows = self.db.execute("SELECT key, file, sha256 FROM cells WHERE status='done'")
        return [(str(r["key"]), r["file"], r["sha256"]) for r in rows]

    def set_sha256(self, key: str, sha256: str) -> None:
        self.db.execute("UPDATE cells SET sha256=? WHERE key=?", (sha256, key))

    def reset(self, key: str, note: str) -> None:
        """Put a cell back to pending (its file was lost or damaged), saying why in ``error``."""
        self.db.execute("UPDATE cells SET status='pending', error=?, file=NULL, sha256=NULL WHERE key=?", (note, key))

    def mark_running(self, key: str, at: float | None = None) -> None:
        """A worker started the cell (``at``: when, if learnt later; default now)."""
        self.db.execute(
            "UPDATE cells SET status='running', attempts=attempts+1, started=?, error=NULL WHERE key=?",
            (time.time() if at is None else at, key),
        )

    def mark_done(
        self,
        key: str,
        metrics: dict[str, float],
        cost: dict[str, float],
        file: str,
        health: list[str] | None = None,
        sha256: str | None = None,
    ) -> None:
        """Record a finished cell; ``sha256`` is its file's checksum, verified before the row is trusted."""
        self.db.execute(
            "UPDATE cells SET status='done', metrics=?, cost=?, file=?, health=?, sha256=?, finished=? WHERE key=?",
            (json.dumps(metrics), json.dumps(cost), file, json.dumps(health or []), sha256, time.time(), key),
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
            row["health"] = json.loads(row["health"]) if row.get("health") else []
        return rows

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row["value"])
