"""Domain studies on the three 20 Newsgroups cross-domain tasks, through the study runner.

Each task (``20ng-comp-rec``, ``20ng-rec-talk``, ``20ng-sci-talk``: sub-groups of each top-level
category split between a source and a target domain, :mod:`transferlab.data.shifted`) runs
``examples/da-20ng-comp-rec.yaml`` with only the dataset changed: minilm-l6 at 128 tokens, 600
posts per side, source budgets of 20 and 80 posts, target budgets of 0 and 20 posts, 5 seeds; the
frozen-feature methods against ``source-only`` and the ``target-only`` baseline. Printed from each
run's summary.json:

* the shift block (MMD and classifier two-sample tests, proxy A-distance, diagnosis, Ben-David bound);
* per source budget and target budget, each method's target accuracy with its 95% interval, its
  gain over ``source-only`` with interval and verdict, and its gain over ``target-only`` (the
  negative-transfer check) where the study has it;
* each validator's picks, how often its pick was the best by target labels, and the accuracy lost.

Run directories are kept under ``--out``: running again continues them (nothing is recomputed),
so the tables print again in seconds.

    .venv/bin/python benchmarks/bench_domain_20ng.py [--tasks 20ng-comp-rec,...] [--seeds 5]
        [--out runs/bench-domain-20ng]
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The probes' fits are small (a few hundred rows): on this shared 2-core machine two OpenBLAS threads
# spinning against other jobs made one 100-example fit take 96 s instead of 2.4 s on one thread.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import yaml  # noqa: E402

from machine import machine_line  # noqa: E402

TASKS = ("20ng-comp-rec", "20ng-rec-talk", "20ng-sci-talk")
SPEC = Path(__file__).resolve().parent.parent / "examples" / "da-20ng-comp-rec.yaml"


def pct(value: float) -> str:
    return f"{value * 100:5.1f}"


def interval(lo: float | None, hi: float | None, signed: bool = False) -> str:
    if lo is None or hi is None:
        return ""
    form = "{:+.1f}" if signed else "{:.1f}"
    return f"[{form.format(lo * 100)}, {form.format(hi * 100)}]"


def print_shift(summary: dict) -> None:
    for source, b in summary["shift"].items():
        if "error" in b:
            print(f"shift ({source}): {b['error']}")
            continue
        c2st, mmd = b["c2st"], b["mmd"]
        print(
            f"shift ({source}, {b['n_source']} source pool vs {b['n_target']} target test):"
            f" MMD² {mmd['statistic']:.4f} p={mmd['p_value']:.3g};"
            f" C2ST AUC {c2st['auc']:.3f} [{c2st['auc_lo']:.3f}, {c2st['auc_hi']:.3f}];"
            f" proxy A-distance {c2st['pad']:.2f} [{c2st['pad_lo']:.2f}, {c2st['pad_hi']:.2f}]"
        )
        print(f"  diagnosis: {b['diagnosis']['label']}")
        if b["bound"]:
            print(f"  bound: {b['bound']['reading']}")


def print_methods(summary: dict) -> None:
    names = summary["names"]["short"]
    gains = {(e["source"], e["strategy"], e["budget"]): e["gains"] for e in summary["entries"]}
    print(f"{'budget':>6} {'+tgt':>4}  {'method':<32} {'target acc [95% CI]':<21} {'gain vs source-only':<32}"
          " gain vs target-only")  # fmt: skip
    for g in summary["adaptation"]["groups"]:
        for r in g["rows"]:
            line = f"{g['budget']:>6} {g['target_budget']:>4}  {names.get(r['strategy'], r['strategy']):<32} "
            line += f"{pct(r['accuracy'])} {interval(r['lo'], r['hi']):<15} {gain_text(r['gain']):<32} "
            found = gains.get((g["source"], r["strategy"], g["budget"]), {})
            line += " ".join(gain_text(v) for k, v in found.items() if k.startswith("target-only"))
            print(line.rstrip())
    for e in summary["entries"]:
        if e["strategy_name"].startswith("target-only"):
            print(f"{'any':>6} {'':>4}  {names.get(e['strategy'], e['strategy']):<32} {pct(e['mean'])}"
                  f" {interval(e['lo'], e['hi'])}")  # fmt: skip
            break


def gain_text(gain: dict | None) -> str:
    if not gain:
        return "(reference)"
    return f"{gain['gain'] * 100:+5.1f} {interval(gain['lo'], gain['hi'], True)} {gain['verdict']}"


def print_validators(summary: dict) -> None:
    for src in summary["validators"]["sources"]:
        best = ", ".join(f"{summary['names']['short'].get(k, k)} x{v}" for k, v in src["best_by_target_labels"].items())
        print(f"validators ({src['source']}, {src['n_selections']} selections; best by target labels: {best})")
        print(f"  {'validator':<20} {'best':>9}  {'lost, points [95% CI]':<22} picks")
        for r in src["rows"]:
            picks = ", ".join(f"{summary['names']['short'].get(k, k)} x{v}" for k, v in r["picks"].items())
            lost = f"{r['lost'] * 100:4.1f} {interval(r['lost_lo'], r['lost_hi'])}"
            print(f"  {r['validator']:<20} {r['n_best']:>3} of {r['n']:<3} {lost:<22} {picks}")
        print(f"  {src['recommendation']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--out", default="runs/bench-domain-20ng")
    args = parser.parse_args()
    from transferlab.study import parse_spec, run_study

    print(machine_line())
    base = yaml.safe_load(SPEC.read_text())
    for task in args.tasks.split(","):
        data = base | {"name": f"bench-{task}", "seeds": args.seeds}
        data["task"] = base["task"] | {"dataset": task}
        start = time.perf_counter()
        result = run_study(parse_spec(data, SPEC.name), Path(args.out) / task, progress=False)
        summary = json.loads((result.out / "summary.json").read_text())
        seconds = time.perf_counter() - start
        print(f"\n== {task}: {result.n_cells} cells ({result.ran} run now, {result.n_failed} failed), {seconds:.0f} s"
              f" (embedding {result.seconds.get('embed', 0.0):.0f} s)")  # fmt: skip
        print_shift(summary)
        print_methods(summary)
        print_validators(summary)


if __name__ == "__main__":
    main()
