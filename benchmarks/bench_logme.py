"""Vectorised LogME against the paper's per-class algorithm, timed side by side in one run.

Run: ``.venv/bin/python benchmarks/bench_logme.py`` (``--quick`` for small cases). Prints one row
per case: seconds for ``logme`` and ``logme_reference``, the speed-up, and ``|ours - reference|``,
which must stay below 1e-5 (exit status 1 otherwise). Ratios, not absolute times, are the result:
the machines are shared.

BLAS runs on one thread by default (``--threads`` to change): on a loaded machine a multi-threaded
LAPACK ``eigh`` was measured 100x slower than single-threaded, which would swamp the comparison.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
from threadpoolctl import threadpool_limits

from transferlab.metrics.transferability import logme, logme_reference

FULL_CASES = [(10_000, 1_280, 100), (2_225, 384, 5)]  # (n, d, C): ImageNet-scale head; a small task
QUICK_CASES = [(2_000, 256, 20), (500, 64, 5)]
TOLERANCE = 1e-5


def make_task(n: int, d: int, n_classes: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian class clusters in d dimensions with unit noise; balanced labels in random order."""
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % n_classes)
    centres = 0.3 * rng.normal(size=(n_classes, d))
    return centres[labels] + rng.normal(size=(n, d)), labels


def timed(fn, *args: np.ndarray) -> tuple[float, float]:
    start = time.perf_counter()
    value = fn(*args)
    return value, time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases only (seconds)")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for both (default 1)")
    args = parser.parse_args(argv)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        return run(QUICK_CASES if args.quick else FULL_CASES)


def run(cases: list[tuple[int, int, int]]) -> int:
    """Time both implementations on each case and print the table; 0 when all agree."""
    logme(*make_task(50, 8, 2))  # load the LAPACK kernels before the first timing
    print(f"{'case':>22} {'ours s':>9} {'reference s':>12} {'speed-up':>9} {'max |diff|':>11}")
    ok = True
    for n, d, n_classes in cases:
        features, labels = make_task(n, d, n_classes)
        ours, t_ours = timed(logme, features, labels)
        reference, t_ref = timed(logme_reference, features, labels)
        diff = abs(ours - reference)
        ok &= diff < TOLERANCE
        case = f"n={n} d={d} C={n_classes}"
        print(f"{case:>22} {t_ours:9.2f} {t_ref:12.2f} {t_ref / t_ours:8.1f}x {diff:11.1e}")
    if not ok:
        print(f"FAILED: |ours - reference| >= {TOLERANCE}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
