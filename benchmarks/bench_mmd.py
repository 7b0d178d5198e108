"""The MMD permutation test: kernel computed once vs recomputed per permutation, and its false-alarm rate.

Run: ``.venv/bin/python benchmarks/bench_mmd.py`` (``--quick`` for small cases, ``--bbc`` to add the
false-alarm check on minilm-l6 embeddings of BBC articles, embedded once through the cache).

1. Speed. :func:`mmd_test` and :func:`mmd_test_reference` on the same data, subsample and
   permutations, timed side by side: n per side, d, permutations, both times, the ratio and both
   p-values (they must be equal; exit status 1 otherwise).
2. False alarms. Two halves of one real sample (scikit-learn's digits, 64 pixels) have no shift
   by construction: over ``--repeats`` random halvings the share of p <= alpha must sit near
   alpha. Printed with its 95 % binomial interval, at alpha = 0.01, 0.05 and 0.10.

BLAS runs on one thread for both (``--threads`` to change), as in ``bench_logme.py``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_limits

from machine import cpu_model  # noqa: E402
from transferlab.metrics.mmd import mmd_test, mmd_test_reference

FULL_CASES = [(200, 64, 1000), (500, 384, 200), (1000, 384, 100)]  # (n per side, d, permutations)
QUICK_CASES = [(100, 64, 200), (200, 384, 50)]
ALPHAS = (0.01, 0.05, 0.10)


def speed_case(n: int, d: int, n_permutations: int, seed: int = 0) -> tuple[float, float, float, float]:
    """Both implementations on a slightly shifted Gaussian pair: (ours s, reference s, p ours, p reference)."""
    rng = np.random.default_rng(seed)
    X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.05
    start = time.perf_counter()
    ours = mmd_test(X, Y, n_permutations, max_samples=None, random_state=seed)
    middle = time.perf_counter()
    ref = mmd_test_reference(X, Y, n_permutations, max_samples=None, random_state=seed)
    end = time.perf_counter()
    return middle - start, end - middle, ours.p_value, ref.p_value


def run_speed(cases: list[tuple[int, int, int]]) -> bool:
    columns = ("n/side", 7), ("d", 4), ("perms", 6), ("ours s", 8), ("reference s", 12), ("speed-up", 9)
    print(" ".join(f"{name:>{width}}" for name, width in columns) + f" {'p ours':>8} {'p ref':>8}")
    same = True
    for n, d, n_permutations in cases:
        t_ours, t_ref, p_ours, p_ref = speed_case(n, d, n_permutations)
        same &= p_ours == p_ref
        row = f"{n:>7} {d:>4} {n_permutations:>6} {t_ours:>8.3f} {t_ref:>12.3f} {t_ref / t_ours:>8.1f}x"
        print(f"{row} {p_ours:>8.4f} {p_ref:>8.4f}")
    return same


def false_alarms(features: np.ndarray, name: str, repeats: int, n: int, n_permutations: int) -> None:
    """Split a random 2n-row draw of ``features`` in two halves, ``repeats`` times; print the rejection rates."""
    rng = np.random.default_rng(0)
    p_values = np.empty(repeats)
    start = time.perf_counter()
    for rep in range(repeats):
        rows = rng.choice(len(features), size=2 * n, replace=False)
        p_values[rep] = mmd_test(features[rows[:n]], features[rows[n:]], n_permutations, random_state=rep).p_value
    seconds = time.perf_counter() - start
    what = f"{repeats} halvings of {2 * n} rows (d={features.shape[1]}), {n_permutations} permutations"
    print(f"{name}: {what}, {seconds:.1f} s")
    for alpha in ALPHAS:
        rejected = int(np.sum(p_values <= alpha))
        lo, hi = stats.binomtest(rejected, repeats).proportion_ci(0.95, method="wilson")
        print(
            f"  alpha {alpha:.2f}: false alarms {rejected / repeats:.3f}  [{lo:.3f}, {hi:.3f}]  ({rejected}/{repeats})"
        )


def bbc_embeddings(n_articles: int) -> np.ndarray:
    """minilm-l6 embeddings of a stratified subsample of BBC News (through the embedding cache)."""
    from transferlab.data import load_task, subsample
    from transferlab.sources import create_source
    from transferlab.sources.cache import EmbeddingCache

    task = subsample(load_task("bbc-news"), n_articles, seed=0)
    return EmbeddingCache().get(create_source("minilm-l6"), task)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small cases and 200 halvings")
    parser.add_argument("--threads", type=int, default=1, help="BLAS threads for both (default 1)")
    parser.add_argument("--repeats", type=int, default=None, help="halvings for the false-alarm rate (default 500)")
    parser.add_argument("--bbc", action="store_true", help="also: minilm-l6 embeddings of 600 BBC articles")
    args = parser.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    print(f"CPU: {cpu_model()}, load average {os.getloadavg()[0]:.2f}, BLAS threads {args.threads}")
    repeats = args.repeats or (200 if args.quick else 500)
    with threadpool_limits(limits=args.threads, user_api="blas"):
        same = run_speed(QUICK_CASES if args.quick else FULL_CASES)
        print("same p-values: " + ("yes" if same else "NO"))
        from sklearn.datasets import load_digits

        false_alarms(load_digits().data, "digits pixels", repeats, n=100, n_permutations=199)
        if args.bbc:
            false_alarms(bbc_embeddings(600), "minilm-l6 on BBC News", repeats, n=150, n_permutations=199)
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
