"""The demo study cold vs warm: same spec, two new run directories, one shared embedding cache.

The cold run starts from an empty cache; the warm run must compute no embedding at all (its
cache misses are printed and checked). Prints wall time and the time spent embedding,
training and analysing for each.

    .venv/bin/python benchmarks/bench_demo.py [--spec path.yaml] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from transferlab.cli import demo_spec_path  # noqa: E402
from transferlab.sources.cache import EmbeddingCache  # noqa: E402
from transferlab.study import load_spec, run_study  # noqa: E402


def one_run(spec_path: Path, out: Path, cache_dir: Path) -> dict[str, float]:
    cache = EmbeddingCache(cache_dir)
    start = time.perf_counter()
    result = run_study(load_spec(spec_path), out, cache=cache, progress=False)
    wall = time.perf_counter() - start
    return {"wall": wall, **result.seconds, "misses": cache.misses, "hits": cache.hits, "failed": len(result.failed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--spec", type=Path, default=demo_spec_path())
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    work = args.workdir or Path(tempfile.mkdtemp(prefix="bench-demo-"))
    shutil.rmtree(work / "cache", ignore_errors=True)
    rows = {name: one_run(args.spec, work / name, work / "cache") for name in ("cold", "warm")}
    print(f"demo study {args.spec.name}, cache in {work / 'cache'}")
    print(f"{'run':>5} {'wall s':>8} {'embed s':>8} {'train s':>8} {'analyse s':>9} {'misses':>7} {'hits':>5}")
    for name, r in rows.items():
        print(
            f"{name:>5} {r['wall']:8.1f} {r['embed']:8.1f} {r['train']:8.1f} {r['analyse']:9.1f}"
            f" {r['misses']:7d} {r['hits']:5d}"
        )
    print(f"warm / cold wall time: {rows['warm']['wall'] / rows['cold']['wall']:.2f}")
    if rows["warm"]["misses"]:
        raise SystemExit("warm run computed embeddings: the cache did not serve them")


if __name__ == "__main__":
    main()
