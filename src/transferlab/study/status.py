"""``transferlab status RUN_DIR``: where a run stands, read-only, live while it runs.

It opens the ledger read-only (SQLite's WAL lets a reader see every committed transition while
the driver writes), counts the planned cells by state, and estimates the time left from the
finished cells' durations. It imports neither torch nor the driver, and its queries are answered
from an index, so it takes well under a second on a 100,000-cell ledger.

* done / running (a worker has started it) / failed / left (not started yet);
* live: whether a ``run`` holds the run directory's lock now. ``running`` cells of a run that is
  not live were interrupted; the next ``run`` starts them again from scratch;
* ETA: mean duration of a finished cell x cells left / cells running at once (live runs only).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

from transferlab.errors import InputError
from transferlab.study.rundir import is_live, read_marker

MAX_FAILURES = 10


def open_read_only(path: Path, live: bool) -> sqlite3.Connection:
    """The ledger, read-only.

    While a run writes it (``live``), through SQLite's WAL, which shows every committed
    transition. A finished run's ledger is checkpointed and read as an immutable file: nothing is
    created next to it (no ``-shm``), so reading it leaves its folder exactly as it was. A driver
    killed mid-run leaves its last transitions in the ``-wal`` file, which an immutable read would
    ignore (down to the tables themselves), so that ledger is read through the WAL too.
    """
    wal = path.with_name(path.name + "-wal")
    if live or (wal.is_file() and wal.stat().st_size > 0):
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    return sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True)


def run_status(run_dir: str | Path) -> dict[str, Any]:
    """Counts by state, ETA and the failures so far of a run directory."""
    run_dir = Path(run_dir).expanduser().resolve()
    path = run_dir / "ledger.sqlite"
    if not path.is_file() or path.is_symlink():
        raise InputError(f"{str(run_dir)!r} is not a run directory (expected ledger.sqlite in it)")
    live = is_live(run_dir)
    try:
        db = open_read_only(path, live)
        try:
            status = _query(db)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise InputError(f"{str(path)!r} is not a readable ledger ({exc}); it was damaged or is not a run's") from None
    status.update(run_dir=str(run_dir), study=read_marker(run_dir).get("study"), live=live)
    status["eta_seconds"] = eta(status) if live else None
    if not live and status["running"]:
        status["interrupted"] = status.pop("running")  # no run holds the folder: they will start again
        status["running"] = 0
    return status


def _query(db: sqlite3.Connection) -> dict[str, Any]:
    has_plan = db.execute("SELECT 1 FROM sqlite_master WHERE name='plan'").fetchone() is not None
    planned = has_plan and db.execute("SELECT 1 FROM plan LIMIT 1").fetchone() is not None
    scope = "WHERE key IN (SELECT key FROM plan)" if planned else ""
    counts = dict(db.execute(f"SELECT status, COUNT(*) FROM cells {scope} GROUP BY status").fetchall())
    n_done, mean_seconds = db.execute(
        "SELECT COUNT(*), AVG(finished - started) FROM cells WHERE status = 'done' AND finished IS NOT NULL"
    ).fetchone()
    and_planned = "AND key IN (SELECT key FROM plan)" if planned else ""
    failures = db.execute(
        "SELECT source, strategy, budget, seed, error FROM cells"
        f" WHERE status = 'failed' {and_planned} ORDER BY finished DESC LIMIT ?",
        (MAX_FAILURES,),
    ).fetchall()
    return {
        "cells": sum(counts.values()),
        "done": counts.get("done", 0),
        "running": counts.get("running", 0),
        "failed": counts.get("failed", 0),
        "left": counts.get("pending", 0),
        "mean_cell_seconds": float(mean_seconds) if n_done else None,
        "failures": [{"source": r[0], "strategy": r[1], "budget": r[2], "seed": r[3], "error": r[4]} for r in failures],
        "read_at": time.time(),
    }


def eta(status: dict[str, Any]) -> float | None:
    """Seconds left: mean finished-cell duration x cells not finished / cells running at once."""
    mean = status["mean_cell_seconds"]
    remaining = status["left"] + status["running"]
    if mean is None or remaining == 0:
        return None if remaining else 0.0
    return float(mean * remaining / max(1, status["running"]))


def status_lines(status: dict[str, Any]) -> list[str]:
    """The status as a few lines of text, for the terminal."""
    state = "running now" if status["live"] else "not running"
    head = f"{status['study'] or 'run'} in {status['run_dir']}: {state}"
    counts = f"{status['done']} done, {status['running']} running, {status['failed']} failed, {status['left']} left"
    if status.get("interrupted"):
        counts += f", {status['interrupted']} interrupted (run again to finish them)"
    lines = [head, f"cells: {counts} (of {status['cells']})"]
    if status["eta_seconds"] is not None and status["live"]:
        lines.append(f"ETA: {format_seconds(status['eta_seconds'])} (from {status['mean_cell_seconds']:.1f} s a cell)")
    for f in status["failures"]:
        lines.append(f"failed: {f['source']} / {f['strategy']} / budget {f['budget']} / seed {f['seed']}: {f['error']}")
    if status["failed"] > len(status["failures"]):
        lines.append(f"... and {status['failed'] - len(status['failures'])} more failed cells (see --json)")
    return lines


def format_seconds(seconds: float) -> str:
    """``1h 02m``, ``3m 20s`` or ``12s``."""
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m" if hours else f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"
