"""The ray executor on a real local Ray: same cells as local, faults, and nothing listening outside.

They use the session's local Ray (``local_ray`` in conftest). That the ray executor gives the
same cells as the local one is the executor contract (``test_executors_contract.py``).
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

ray = pytest.importorskip("ray")

from transferlab.study import parse_spec, run_study, validate  # noqa: E402
from transferlab.study.faults import ENV  # noqa: E402
from transferlab.study.ledger import Ledger  # noqa: E402

FEATURES = ["f0", "f1", "f2", "f3"]


def small_spec(csv: str, **changes) -> dict:
    spec = {
        "name": "ray",
        "task": {"dataset": csv, "feature_columns": FEATURES, "test_size": 0.5},
        "sources": ["identity"],
        "strategies": ["knn", "prototype", "linear-probe"],
        "baselines": ["raw-logreg"],
        "budgets": [6, 12],
        "seeds": 2,
    }
    return spec | changes


def rows(run_dir: Path) -> dict[str, dict]:
    ledger = Ledger(run_dir / "ledger.sqlite")
    try:
        return {r["key"]: r for r in ledger.rows()}
    finally:
        ledger.close()


def listening_addresses(pids: set[int]) -> set[str]:
    """Local addresses of the TCP sockets in LISTEN state owned by ``pids`` (from /proc)."""
    inodes: dict[str, str] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # LISTEN
                inodes[fields[9]] = fields[1].split(":")[0]
    found = set()
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:
            continue
        found |= {inodes[link[8:-1]] for link in links if link.startswith("socket:[") and link[8:-1] in inodes}
    return found


def ray_pids() -> set[int]:
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
            except OSError:
                continue
            if b"ray" in cmdline and (b"gcs_server" in cmdline or b"raylet" in cmdline or b"ray::" in cmdline):
                pids.add(int(entry))
    return pids | {os.getpid()}


LOOPBACK = {"0100007F", "00000000000000000000000001000000", "0000000000000000FFFF00000100007F"}


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads listening sockets from Linux /proc")
def test_a_local_ray_listens_on_the_loopback_address_only(local_ray):
    addresses = listening_addresses(ray_pids())
    assert addresses, "found no listening socket of Ray's processes"
    assert addresses <= LOOPBACK, f"Ray listens beyond 127.0.0.1: {addresses}"
    assert ray.util.get_node_ip_address() == "127.0.0.1"


def test_ray_records_failed_and_hung_cells_and_retries_a_lost_worker(tmp_path, feature_csv, local_ray, monkeypatch):
    spec = small_spec(feature_csv, executor="ray", cell_timeout=6, strategies=["knn", "prototype"])
    keys = [c.key for c in validate(parse_spec(spec)).cells]
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps({keys[0]: "fail", keys[1]: "hang", keys[4]: "pause-once"}))
    monkeypatch.setenv(ENV, str(faults))
    pid_file, ledger = Path(f"{faults}.{keys[4]}.pid"), tmp_path / "run" / "ledger.sqlite"
    killer = threading.Thread(target=_kill_when_running, args=(pid_file, ledger, keys[4]), daemon=True)
    killer.start()
    result = run_study(parse_spec(spec), tmp_path / "run", progress=False)
    errors = [error for _, error in result.failed]
    assert len(errors) == 2 and any("injected fault" in e for e in errors)
    assert any("timed out after 6 s" in e for e in errors)
    stored = rows(tmp_path / "run")
    assert (stored[keys[4]]["status"], stored[keys[4]]["attempts"]) == ("done", 2)  # Ray ran it again
    assert sum(r["status"] == "done" for r in stored.values()) == len(keys) - 2


def _kill_when_running(pid_file: Path, ledger: Path, key: str) -> None:
    """Kill the worker inside cell ``key`` once the driver has recorded that it started it."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if pid_file.exists() and ledger.exists():
            with sqlite3.connect(f"file:{ledger}?mode=ro", uri=True) as db:
                row = db.execute("SELECT status FROM cells WHERE key = ?", (key,)).fetchone()
            if row and row[0] == "running":
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
                return
        time.sleep(0.05)


@pytest.mark.slow  # a second driver process (torch and Ray imported again): half a minute idle, minutes when shared
def test_run_on_an_existing_cluster_by_its_address(tmp_path, feature_csv, local_ray):
    """`--executor ray --address HOST:PORT` from a second process, to the session's (loopback) Ray."""
    address = local_ray.get_runtime_context().gcs_address
    spec_path = tmp_path / "study.yaml"
    spec_path.write_text(json.dumps(small_spec(feature_csv, strategies=["knn"], budgets=[6], seeds=1)))
    # a driver joins a cluster on the address its head listens on; this one listens on 127.0.0.1 only
    env = os.environ | {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
    command = [sys.executable, "-m", "transferlab.cli", "run", str(spec_path), "-o", str(tmp_path / "run"), "--quiet"]
    proc = subprocess.run(
        [*command, "--executor", "ray", "--address", address], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert {r["status"] for r in rows(tmp_path / "run").values()} == {"done"}
    assert local_ray.is_initialized()  # the run did not shut down a cluster it did not start


@pytest.mark.slow  # loads minilm-l3 in the driver and in two Ray workers and fine-tunes twice: 1-2 min on 2 cores
def test_a_fine_tuning_study_on_ray_matches_local(tmp_path, text_csv, local_ray):
    spec = {
        "name": "finetune",
        "task": {"dataset": text_csv, "test_size": 0.4},
        "sources": [{"name": "minilm-l3", "max_length": 32}],
        "strategies": ["linear-probe", {"name": "finetune", "max_steps": 3, "batch_size": 8}],
        "baselines": ["tfidf-logreg"],
        "budgets": [12],
        "seeds": 1,
    }
    run_study(parse_spec(spec), tmp_path / "local", progress=False)
    result = run_study(parse_spec(spec | {"executor": "ray"}), tmp_path / "ray", progress=False)
    assert result.failed == []
    local, remote = rows(tmp_path / "local"), rows(tmp_path / "ray")
    assert local.keys() == remote.keys()
    for key, row in local.items():
        for metric, value in row["metrics"].items():  # thread counts may differ: float sums may too
            assert remote[key]["metrics"][metric] == pytest.approx(value, abs=1e-4), (row["strategy"], metric)
