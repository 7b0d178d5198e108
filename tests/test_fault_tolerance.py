"""Fault tolerance of the local executor, tested the way Ray Tune tests its restore.

Faults are injected with ``TRANSFERLAB_FAULTS`` (see ``transferlab.study.faults``): a cell that
fails, a cell that hangs, a worker killed mid-cell, a driver killed mid-run. After ``run``
again: finished cells are kept, interrupted ones are run again once, failures are reported,
and the final summary equals a clean run's.

"Equal" compares what a summary concludes, not what it cost: the decision, the recommendations,
and every entry (means, intervals, metrics, gains and verdicts) without its ``cost`` block. A
cell run again has new timings and memory peaks, and those are all ``cost`` holds.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import yaml

from transferlab.study import parse_spec, run_study, validate
from transferlab.study.faults import ENV
from transferlab.study.ledger import Ledger
from transferlab.study.status import run_status

FEATURES = ["f0", "f1", "f2", "f3"]


def small_spec(csv: str, **changes) -> dict:
    spec = {
        "name": "faults",
        "task": {"dataset": csv, "feature_columns": FEATURES, "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["knn", "prototype"],
        "baselines": ["raw-logreg"],
        "budgets": [6, 12],
        "seeds": 2,
    }
    return spec | changes


def comparable(run_dir: Path) -> dict:
    """What a summary concludes, without the costs a re-run cell measures anew."""
    summary = json.loads((run_dir / "summary.json").read_text())
    entries = [{k: v for k, v in e.items() if k != "cost"} for e in summary["entries"]]
    return {"decision": summary["decision"], "recommendations": summary["recommendations"], "entries": entries}


def keys_of(spec: dict) -> list[str]:
    return [c.key for c in validate(parse_spec(spec)).cells]


def attempts(run_dir: Path) -> dict[str, tuple[str, int]]:
    ledger = Ledger(run_dir / "ledger.sqlite")
    try:
        return {r["key"]: (r["status"], r["attempts"]) for r in ledger.rows()}
    finally:
        ledger.close()


@pytest.fixture(scope="module")
def clean(tmp_path_factory, feature_csv) -> dict:
    """The summary of a run without faults (in-process)."""
    out = tmp_path_factory.mktemp("clean")
    run_study(parse_spec(small_spec(feature_csv)), out, progress=False)
    return comparable(out)


def write_faults(path: Path, faults: dict[str, str]) -> str:
    path.write_text(json.dumps(faults))
    return str(path)


def test_failed_and_hung_cells_are_recorded_and_the_rest_go_on(tmp_path, feature_csv, clean, monkeypatch):
    spec = small_spec(feature_csv, workers=2, cell_timeout=4)
    keys = keys_of(spec)
    monkeypatch.setenv(ENV, write_faults(tmp_path / "faults.json", {keys[0]: "fail", keys[3]: "hang"}))
    first = run_study(parse_spec(spec), tmp_path / "run", progress=False)
    errors = dict((where, error) for where, error in first.failed)
    assert len(errors) == 2 and first.ran == 12
    assert any("RuntimeError: injected fault" in e for e in errors.values())
    assert any("timed out after 4 s" in e for e in errors.values())
    states = attempts(tmp_path / "run")
    assert states[keys[0]][0] == states[keys[3]][0] == "failed"
    assert sum(s == "done" for s, _ in states.values()) == 10
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["failed"]) == 2  # the report shows them

    monkeypatch.delenv(ENV)
    kept = run_study(parse_spec(spec), tmp_path / "run", progress=False)
    assert (kept.ran, kept.failed_before, kept.n_failed) == (0, 2, 2)  # failures are kept unless asked
    retried = run_study(parse_spec(spec), tmp_path / "run", progress=False, retry_failed=True)
    assert (retried.ran, retried.n_failed) == (2, 0)
    assert comparable(tmp_path / "run") == clean


def test_a_worker_killed_mid_cell_is_replaced_and_its_cell_run_again_once(tmp_path, feature_csv, clean, monkeypatch):
    spec = small_spec(feature_csv, workers=2)
    victim = keys_of(spec)[5]
    faults = write_faults(tmp_path / "faults.json", {victim: "pause-once"})
    monkeypatch.setenv(ENV, faults)
    killer = threading.Thread(target=_kill_when_paused, args=(Path(f"{faults}.{victim}.pid"),), daemon=True)
    killer.start()
    result = run_study(parse_spec(spec), tmp_path / "run", progress=False)
    killer.join(timeout=5)
    assert result.failed == []
    states = attempts(tmp_path / "run")
    assert states.pop(victim) == ("done", 2)
    assert set(states.values()) == {("done", 1)}
    assert comparable(tmp_path / "run") == clean


def _kill_when_paused(pid_file: Path) -> None:
    deadline = time.monotonic() + 300
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # the worker wrote its pid before it went to sleep: let it get there
    os.kill(int(pid_file.read_text()), signal.SIGKILL)


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "transferlab.cli", *args], capture_output=True, text=True, timeout=600, env=env
    )


def test_driver_killed_mid_run_then_run_again(tmp_path, feature_csv, clean):
    """SIGKILL the driver while a worker is inside a cell; a second run is refused while it lives."""
    spec = small_spec(feature_csv, workers=2)
    keys = keys_of(spec)
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump(spec))
    faults = write_faults(tmp_path / "faults.json", {keys[2]: "pause-once"})
    env = os.environ | {ENV: faults}
    out = tmp_path / "run"
    driver = subprocess.Popen(
        [sys.executable, "-m", "transferlab.cli", "run", str(spec_path), "--out", str(out), "--quiet"], env=env
    )
    most_running = []
    done_before = _wait_until(
        out / "ledger.sqlite",
        lambda s: most_running.append(s.get("running", 0)) or s.get("done", 0) == len(keys) - 1,
        driver,
    )
    assert max(most_running) <= 2  # "running" means a worker started it: never more than the 2 workers

    live = run_status(out)  # read-only, while the run holds the folder
    assert live["live"] and (live["running"], live["left"], live["done"]) == (1, 0, len(keys) - 1)
    assert live["eta_seconds"] is not None
    second = cli("run", str(spec_path), "--out", str(out), "--quiet")
    assert second.returncode == 2 and len(second.stderr.strip().splitlines()) == 1
    assert "is in use by `transferlab run`" in second.stderr

    pool = descendants(driver.pid)  # the fork server and its workers, one of them inside the paused cell
    os.kill(driver.pid, signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 15
    while pool and time.monotonic() < deadline:  # they notice the driver's death within a second or two
        pool = {p for p in pool if Path(f"/proc/{p}").exists()}
        time.sleep(0.2)
    assert not pool, "processes of the killed driver's pool outlived it"
    after_kill = run_status(out)
    assert not after_kill["live"] and after_kill["interrupted"] == 1
    resumed = cli("run", str(spec_path), "--out", str(out), "--quiet", env=env)
    assert resumed.returncode == 0, resumed.stderr
    states = attempts(out)
    assert states.pop(keys[2]) == ("done", 2)  # interrupted: run again, once
    assert all(states[k] == ("done", 1) for k in done_before)  # finished: kept
    assert comparable(out) == clean


def _wait_until(ledger: Path, condition, proc: subprocess.Popen) -> set[str]:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        if ledger.exists():
            try:
                with sqlite3.connect(ledger) as db:
                    counts = dict(db.execute("SELECT status, COUNT(*) FROM cells GROUP BY status").fetchall())
                    done = {k for (k,) in db.execute("SELECT key FROM cells WHERE status='done'")}
            except sqlite3.OperationalError:
                counts, done = {}, set()
            if condition(counts):
                return done
        time.sleep(0.05)
    pytest.fail("the run ended or stalled before the fault could be injected")


def test_exit_code_1_when_cells_failed_and_the_report_is_still_written(tmp_path, feature_csv, monkeypatch, capsys):
    from transferlab.cli import main

    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(yaml.safe_dump(small_spec(feature_csv, budgets=[6], seeds=1)))
    monkeypatch.setenv(ENV, write_faults(tmp_path / "faults.json", {"*": "fail"}))
    monkeypatch.setattr(sys, "argv", ["transferlab", "run", str(spec_path), "--out", str(tmp_path / "run"), "--quiet"])
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    assert "3 failed" in capsys.readouterr().out
    assert (tmp_path / "run" / "report.html").is_file()


def descendants(pid: int) -> set[int]:
    """Every live descendant of ``pid`` (Linux /proc; empty elsewhere)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found
