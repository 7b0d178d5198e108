"""The bundled cross-lingual studies through the study runner, with their tables as the README shows them.

Runs ``examples/xling-bbc-slo.yaml`` (English BBC topics -> Slovenian comments) and
``examples/xling-afinn-en-da.yaml`` (English -> Danish word polarity), then prints from each run's
summary.json:

* how long the run took and how much of it was embedding (e5-multilingual is the slow source);
* the notes (rows the label map dropped);
* which sources are multilingual and which are the controls, and what multilinguality buys: the
  probe's accuracy on the target test set, multilingual source minus control, and the gap
  reduction (the control's transfer gap minus the multilingual source's);
* per source and English budget, the transfer matrix (rows: what the probe was trained on;
  columns: each language's test set), the transfer gaps, and what the probe is worth in
  target-language labels.

Run directories are kept under ``--out``: running again continues them (nothing is recomputed),
so the tables print again in seconds.

    .venv/bin/python benchmarks/bench_cross_lingual.py [--studies xling-bbc-slo,xling-afinn-en-da]
        [--out runs/bench-cross-lingual]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# The probes' fits are small: one BLAS thread each is faster than two fighting other jobs on 2 cores.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from machine import machine_line  # noqa: E402

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
STUDIES = ("xling-bbc-slo", "xling-afinn-en-da")


def pct(value: float) -> str:
    return f"{value * 100:5.1f}"


def cell(c: dict | None) -> str:
    return "  –" if c is None else f"{pct(c['accuracy'])} [{pct(c['lo'])}, {pct(c['hi'])}]"


def gain(g: dict | None) -> str:
    if g is None:
        return "–"
    return f"{g['gain'] * 100:+5.1f} [{g['lo'] * 100:+5.1f}, {g['hi'] * 100:+5.1f}] {g['verdict'][:3]}"


def print_multilinguality(block: dict) -> None:
    m = block["multilinguality"]
    print(m["sentence"])
    print("kinds: " + ", ".join(f"{s} {k}" for s, k in m["kinds"].items()))
    if not m["rows"]:
        return
    tgt = "+".join(block["target_languages"])
    print(f"budget  multilingual      control       {tgt} accuracy difference     gap reduction")
    for r in m["rows"]:
        row = f"{r['budget']:6d}  {r['source']:<17} {r['control']:<13} {gain(r['cross_lingual_gain']):<29}"
        print(row + f" {gain(r['gap_reduction'])}")


def print_source(entry: dict) -> None:
    print(f"\n{entry['source']}")
    for m in entry["matrices"]:
        print("  trained on          " + "".join(f"{c + ' test [95% CI]':<24}" for c in m["columns"]))
        for r in m["rows"]:
            print(f"  {r['labels']:<19} " + "".join(f"{cell(r['cells'].get(c)):<24}" for c in m["columns"]))
        for g in m["gaps"]:
            print(f"    gap {g['text']:<58} {gain(g['gap'])}")
    equivalence = entry.get("equivalence")
    if equivalence and equivalence["rows"]:
        for r in equivalence["rows"]:
            if r.get("priced", True):
                print(f"  {r['strategy']} at {r['budget']} source labels is worth {r['text']} target-only labels")
            else:
                print(f"  {r['strategy']} at {r['budget']} source labels: {r['text']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", default=",".join(STUDIES))
    parser.add_argument("--out", default="runs/bench-cross-lingual")
    args = parser.parse_args()
    from transferlab.study import load_spec, run_study

    print(machine_line())
    for name in args.studies.split(","):
        spec = load_spec(EXAMPLES / f"{name}.yaml")
        start = time.perf_counter()
        result = run_study(spec, Path(args.out) / name, progress=False)
        seconds = time.perf_counter() - start
        summary = json.loads((result.out / "summary.json").read_text())
        took = ", ".join(f"{k} {result.seconds.get(k, 0.0):.0f} s" for k in ("embed", "train", "analyse"))
        cells = f"{result.n_cells} cells ({result.ran} run now, {result.n_failed} failed)"
        print(f"\n== {name}: {cells}, {seconds:.0f} s ({took})")
        for note in summary["notes"]:
            print(f"note: {note}")
        block = summary["cross_lingual"]
        print(f"test sets: {block['n_test']}")
        print_multilinguality(block)
        for entry in block["sources"]:
            print_source(entry)


if __name__ == "__main__":
    main()
