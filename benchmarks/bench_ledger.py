"""Planning at internet scale, by simulation: a 100,000-cell grid planned, inserted into a ledger, and `status` on it.

The grid is 10 sources x 5 strategies x 40 budgets x 50 seeds (the identity source with ten
parameter settings stands in for ten models: planning never builds a source). It measures:

* planning the cells (keys are hashes of each cell's canonical JSON) and inserting them, with
  the current plan, into a new ledger: seconds, and the driver's peak memory during it (Linux
  VmHWM, reset just before, so the imports already loaded do not count; the absolute peak is
  printed too);
* the same insert again (a resumed run: every cell already known);
Times are wall-clock, with the process's CPU time beside them: on a shared machine the CPU time
is what the same single-threaded work takes on an idle one.

* ``status`` on the ledger while 1/3 of it is done and some cells failed: the function, and the
  real ``transferlab status`` command in a new process (Python start-up included);
* against a plain reference: the same rows inserted one transaction per cell (what a naive
  driver does), to show what batching buys.

    .venv/bin/python benchmarks/bench_ledger.py [--cells-per-seed-budget N]
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import machine_line
from transferlab.study.cell import peak_rss_mb, reset_peak_rss
from transferlab.study.ledger import Ledger
from transferlab.study.planner import cell_to_row, plan_cells
from transferlab.study.spec import parse_spec
from transferlab.study.status import run_status


def grid_spec(n_sources: int, n_budgets: int, n_seeds: int) -> dict:
    return {
        "name": "internet-scale",
        "task": {"dataset": "simulated.csv", "feature_columns": ["f0"]},
        "sources": [{"name": "identity", "setting": i} for i in range(n_sources)],
        "strategies": ["knn", "prototype", "linear-probe", "lp-ft", "finetune"],
        "budgets": list(range(10, 10 * (n_budgets + 1), 10)),
        "seeds": n_seeds,
    }


def finish_some(path: Path, fraction: float) -> None:
    """Mark a fraction of the cells done (with durations) and a few failed, as a run in progress would."""
    ledger = Ledger(path)
    keys = list(ledger.statuses())
    random.Random(0).shuffle(keys)
    done, failed = keys[: int(len(keys) * fraction)], keys[-50:]
    now = time.time()
    with ledger.transaction():
        ledger.db.executemany(
            "UPDATE cells SET status='done', started=?, finished=? WHERE key=?",
            [(now - 30, now - 30 + random.Random(i).uniform(5, 60), k) for i, k in enumerate(done)],
        )
        ledger.db.executemany(
            "UPDATE cells SET status='failed', error='ValueError: simulated' WHERE key=?", [(k,) for k in failed]
        )
        ledger.db.executemany(
            "UPDATE cells SET status='running', started=? WHERE key=?", [(now, k) for k in keys[-52:-50]]
        )
    ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", type=int, default=10)
    parser.add_argument("--budgets", type=int, default=40)
    parser.add_argument("--seeds", type=int, default=50)
    args = parser.parse_args()
    print(machine_line())
    spec = parse_spec(grid_spec(args.sources, args.budgets, args.seeds))
    work = Path(tempfile.mkdtemp(prefix="bench-ledger-"))

    reset_peak_rss()
    before = peak_rss_mb()
    start, cpu = time.perf_counter(), time.process_time()
    cells, _ = plan_cells(spec, "0" * 32, "text")
    planned, planned_cpu = time.perf_counter() - start, time.process_time() - cpu
    ledger = Ledger(work / "ledger.sqlite")
    ledger.add_cells([cell_to_row(c) for c in cells])
    ledger.set_plan([c.key for c in cells])
    total, total_cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = peak_rss_mb()
    start = time.perf_counter()
    ledger.add_cells([cell_to_row(c) for c in cells])
    again = time.perf_counter() - start
    ledger.close()
    grid = f"{args.sources} sources x 5 strategies x {args.budgets} budgets x {args.seeds} seeds"
    print(f"grid: {len(cells):,} cells ({grid})")
    print(
        f"plan: {planned:.2f} s ({planned_cpu:.2f} s of CPU); plan + insert into a new ledger: {total:.2f} s"
        f" ({total_cpu:.2f} s of CPU); insert again (resume): {again:.2f} s"
    )
    print(
        f"driver memory: peak {peak:.0f} MB during it, {peak - before:.0f} MB above the {before:.0f} MB of the imports"
    )

    finish_some(work / "ledger.sqlite", 1 / 3)
    times, cpus = [], []
    for _ in range(5):
        start, cpu = time.perf_counter(), time.process_time()
        status = run_status(work)
        times.append(time.perf_counter() - start)
        cpus.append(time.process_time() - cpu)
    start = time.perf_counter()
    proc = subprocess.run(
        [Path(sys.executable).parent / "transferlab", "status", str(work), "--json"], capture_output=True, text=True
    )
    command = time.perf_counter() - start
    shown = json.loads(proc.stdout)
    print(
        f"status: {min(times) * 1000:.0f} ms (best of 5; {min(cpus) * 1000:.0f} ms of CPU) in-process;"
        f" `transferlab status` command {command:.2f} s;"
        f" {shown['done']:,} done, {shown['failed']} failed, {shown['left']:,} left"
    )
    assert status["cells"] == len(cells)

    sample = [cell_to_row(c) for c in cells[:5000]]
    naive = Ledger(work / "naive.sqlite")
    start = time.perf_counter()
    for row in sample:
        naive.add_cells([row])  # one transaction (one fsync) per cell
    per_cell = (time.perf_counter() - start) / len(sample)
    naive.close()
    print(
        f"reference, one transaction per cell: {per_cell * 1000:.2f} ms a cell ->"
        f" {per_cell * len(cells):.0f} s for the grid; batched: {total:.1f} s ({per_cell * len(cells) / total:.0f}x)"
    )


if __name__ == "__main__":
    main()
