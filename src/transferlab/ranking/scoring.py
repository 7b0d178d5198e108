"""Every (candidate, score) pair of a ranking: the full-sample value and its bootstrap replicates.

The pairs are independent, so with ``n_jobs > 1`` they run in worker processes (joblib's loky
backend, which starts clean interpreters: no fork of a process holding torch's or OpenMP's
threads). Each worker computes exactly what the sequential loop computes, so the numbers do not
depend on ``n_jobs``. Threads were measured first and gave 1.1x on 2 cores: between its BLAS
calls, most of the time goes to Python in scikit-learn's solvers, which holds the GIL.

BLAS and OpenMP run on one thread inside each task: on a shared machine a multi-threaded LAPACK
call was measured many times slower than a single-threaded one (``benchmarks/bench_logme.py``),
and k-means (inside N-LEEP) ran 1.3x faster on one OpenMP thread than on two at these sizes,
with the same result.
"""

from __future__ import annotations

import math
import os
import time
import warnings

import numpy as np

from transferlab.errors import InputError
from transferlab.metrics.base import Metric
from transferlab.metrics.uncertainty import bootstrap_scores

# A task's outcome: the value, the recentred replicates, a note for the user, and seconds spent.
Outcome = tuple[float | None, np.ndarray | None, str | None, float]


def resolve_jobs(n_jobs: int | None) -> int:
    """Worker processes, as scikit-learn reads ``n_jobs``: None is 1, -1 one per CPU.

    Not parallel by default: starting workers costs a few seconds (each imports scikit-learn),
    and on a 2-core machine shared with other work two processes measured slower than one.
    """
    if n_jobs is None:
        return 1
    return os.cpu_count() or 1 if n_jobs == -1 else max(1, int(n_jobs))


def score_pairs(
    tasks: list[tuple[Metric, np.ndarray | None, str]], labels: np.ndarray, n_boot: int, random_state: int, n_jobs: int
) -> list[Outcome]:
    """:func:`score_one` for every ``(metric, X, label)``, in order, on ``n_jobs`` processes."""
    if n_jobs <= 1 or n_boot == 0 or len(tasks) < 2:  # starting workers costs more than the point scores
        return [score_one(m, X, labels, n_boot, random_state, label) for m, X, label in tasks]
    from joblib import Parallel, delayed

    run = delayed(score_one)
    return Parallel(n_jobs=min(n_jobs, len(tasks)))(run(m, X, labels, n_boot, random_state, lbl) for m, X, lbl in tasks)


def score_one(
    metric: Metric, X: np.ndarray | None, labels: np.ndarray, n_boot: int, random_state: int, label: str
) -> Outcome:
    """A score and its paired bootstrap replicates; a score that fails on these features gives a note."""
    from threadpoolctl import threadpool_limits

    start = time.perf_counter()
    if X is None:
        return None, None, None, 0.0
    with threadpool_limits(limits=1):
        value, reps, note = _score(metric, X, labels, n_boot, random_state, label)
    return value, reps, note, time.perf_counter() - start


def _score(
    metric: Metric, X: np.ndarray, labels: np.ndarray, n_boot: int, random_state: int, label: str
) -> tuple[float | None, np.ndarray | None, str | None]:
    from sklearn.exceptions import ConvergenceWarning

    try:
        value = float(metric(X, labels))
        with warnings.catch_warnings():
            # a resample repeats examples, so k-means inside N-LEEP's mixture can find fewer distinct
            # points than components and warns on every replicate; the score is still defined
            warnings.simplefilter("ignore", ConvergenceWarning)
            reps = bootstrap_scores(metric, {label: X}, labels, n_boot, random_state)[label] if n_boot else None
    except (InputError, ValueError, np.linalg.LinAlgError) as exc:
        return None, None, f"{metric.name} failed on {label}: {str(exc).splitlines()[0]}"
    if not math.isfinite(value) or (reps is not None and not np.isfinite(reps).all()):
        return None, None, f"{metric.name} is not finite on {label}"
    # Recentred on the full-sample score: a resample's duplicated examples shift some scores (LogME
    # when n < d, kNN, the linear probe) by more than their spread, and by different amounts for
    # different sources; the spread around the score is what says how stable the ranking is.
    return value, None if reps is None else reps - reps.mean() + value, None
