"""The ray executor against the local one, side by side in one process.

1. **Overhead per cell.** 300 cells that do next to nothing (nearest-prototype fits on 6
   examples of 4 features, about a millisecond each) through the in-process local executor and
   through Ray with one CPU (so no parallelism hides the cost), Ray's workers already started.
   Overhead per cell = (Ray time - in-process time) / cells.
2. **The demo grid with a warm cache**, in three groups run apart so that each ratio means one
   thing: the frozen-feature cells (linear probe, kNN, prototype, zero-shot: single-threaded
   fits on cached embeddings), the TF-IDF baseline (single-threaded scikit-learn), and the
   from-scratch baseline (torch training, which already uses both cores). Each group runs with
   ``executor: local, workers: 1`` and with ``executor: ray`` on a local Ray with 2 CPUs, into
   new run directories sharing the user's embedding cache (warmed first if it is not); the two
   summaries are compared
   (decision, recommendations, and every entry without its costs).

    .venv/bin/python benchmarks/bench_ray.py [--seeds N] [--groups "from scratch" ...] [--skip-demo] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from machine import machine_line  # noqa: E402
from transferlab.cli import demo_spec_path  # noqa: E402
from transferlab.sources.cache import EmbeddingCache  # noqa: E402
from transferlab.study import load_spec, parse_spec, run_study, validate  # noqa: E402
from transferlab.study.drive import warm_embeddings  # noqa: E402
from transferlab.study.executor import ExecutorOptions, create_executor  # noqa: E402
from transferlab.study.ray_executor import start_ray  # noqa: E402

GROUPS = {
    "frozen features": {"strategies": ["linear-probe", "knn", "prototype", "zero-shot"], "baselines": []},
    # a spec needs one strategy: a baseline listed there still runs as a baseline (its class says so)
    "tf-idf baseline": {"strategies": ["tfidf-logreg"], "baselines": []},
    "from scratch": {"strategies": ["scratch"], "baselines": []},
}


def overhead(work: Path, n_cells: int) -> None:
    import ray

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(60, 4)), columns=["f0", "f1", "f2", "f3"]).assign(label=list("ab") * 30)
    frame.to_csv(work / "tiny.csv", index=False)
    spec = parse_spec(
        {
            "name": "noop",
            "task": {"dataset": str(work / "tiny.csv"), "feature_columns": ["f0", "f1", "f2", "f3"]},
            "sources": ["identity"],
            "strategies": ["prototype"],
            "budgets": [6],
            "seeds": n_cells,
        }
    )
    checked = validate(spec)
    options = ExecutorOptions(cache=EmbeddingCache(work / "cache"), sources=checked.sources, split=checked.split)
    times = {}
    start_ray(None, workers=1)
    for name in ("local", "ray", "local", "ray"):  # the first pass of each warms up (Ray's worker, imports)
        start = time.perf_counter()
        outcomes = list(create_executor(name, options).run(spec, checked.cells, lambda cell, at=None: None))
        times[name] = time.perf_counter() - start
        assert len(outcomes) == n_cells and not any(isinstance(o, str) for _, o in outcomes)
    ray.shutdown()
    per_cell = (times["ray"] - times["local"]) / n_cells
    print(f"overhead: {n_cells} near-empty cells, in-process {times['local']:.2f} s, Ray (1 CPU) {times['ray']:.2f} s")
    print(f"Ray's overhead per cell: {per_cell * 1000:.1f} ms (aim: under 50 ms)")


def comparable(run_dir: Path) -> str:
    """What a summary concludes, floats to 9 significant digits: a fit on one thread (a Ray cell) and on
    two (in-process) may differ in the last bits of a sum, as at budget 640 of TF-IDF (NLL 1e-16 apart)."""
    summary = json.loads((run_dir / "summary.json").read_text())
    entries = [{k: v for k, v in e.items() if k != "cost"} for e in summary["entries"]]
    rounded = json.loads(json.dumps([summary["decision"], summary["recommendations"], entries]), parse_float=_round)
    return json.dumps(rounded, sort_keys=True)


def _round(text: str) -> float:
    return float(f"{float(text):.9g}")


def demo(work: Path, seeds: int | None, groups: list[str]) -> None:
    import ray

    base = load_spec(demo_spec_path()).model_dump()
    if seeds is not None:
        base["seeds"] = seeds
    cache = EmbeddingCache()  # the user's cache: warm already after `make demo`
    start = time.perf_counter()
    checked = validate(parse_spec(base))
    warm_embeddings(checked.cells, checked.split, checked.sources, cache, lambda text: None)
    print(f"warming the cache (once): {time.perf_counter() - start:.0f} s, {cache.misses} embeddings computed")
    start = time.perf_counter()
    start_ray(None, workers=2)
    run_study(
        parse_spec(base | GROUPS["frozen features"] | {"executor": "ray", "budgets": [10]}),
        work / "warm",
        progress=False,
    )
    print(f"Ray start and first workers (once per run): {time.perf_counter() - start:.0f} s")
    print(f"{'group':>16} {'cells':>6} {'local s':>8} {'ray s':>7} {'speed-up':>9} {'same answer':>12}")
    totals = [0.0, 0.0]
    for group in groups:
        arms = GROUPS[group]
        walls = {}
        for executor, workers in (("local", 1), ("ray", 2)):
            spec = parse_spec(base | arms | {"executor": executor, "workers": workers})
            began = time.perf_counter()
            result = run_study(
                spec, work / f"{group}-{executor}".replace(" ", "-"), cache=EmbeddingCache(), progress=False
            )
            walls[executor] = time.perf_counter() - began
            assert result.failed == [], result.failed
        same = comparable(work / f"{group}-local".replace(" ", "-")) == comparable(
            work / f"{group}-ray".replace(" ", "-")
        )
        totals = [totals[0] + walls["local"], totals[1] + walls["ray"]]
        ratio = walls["local"] / walls["ray"]
        print(
            f"{group:>16} {result.n_cells:6d} {walls['local']:8.1f} {walls['ray']:7.1f} {ratio:8.2f}x {str(same):>12}"
        )
    print(f"{'whole grid':>16} {'':>6} {totals[0]:8.1f} {totals[1]:7.1f} {totals[0] / totals[1]:8.2f}x")
    ray.shutdown()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=None, help="fewer seeds than the demo's 3, for a quicker run")
    parser.add_argument("--cells", type=int, default=300, help="near-empty cells for the overhead")
    parser.add_argument("--skip-demo", action="store_true")
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), default=list(GROUPS), metavar="GROUP")
    parser.add_argument("--skip-overhead", action="store_true")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-ray-"))
    work.mkdir(parents=True, exist_ok=True)
    print(machine_line())
    if not args.skip_overhead:
        overhead(work, args.cells)
    if not args.skip_demo:
        demo(work, args.seeds, args.groups)


if __name__ == "__main__":
    main()
