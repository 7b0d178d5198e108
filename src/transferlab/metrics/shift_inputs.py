"""Input checks and small helpers shared by the shift statistics.

Every shift statistic takes a source sample ``X_source`` ``(n_source, d)`` and a target sample
``X_target`` ``(n_target, d)`` of the same features, plus optional integer class codes. The
messages are written once here; each says what was expected, what was found and the fix.
"""

from __future__ import annotations

import functools
import math
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
from scipy import stats

from transferlab.errors import InputError


def check_two_samples(name: str, X_source: object, X_target: object, min_rows: int = 2) -> tuple[np.ndarray, ...]:
    """Both samples as float64 ``(n, d)`` arrays with the same ``d``, finite, ``min_rows`` rows each."""
    arrays = []
    for side, X in (("source", X_source), ("target", X_target)):
        X = np.asarray(X)
        if X.ndim != 2 or not np.issubdtype(X.dtype, np.number):
            raise InputError(
                f"{name}: expected the {side} sample as a numeric 2-D array (n_samples, n_features), found "
                f"{X.dtype} of shape {X.shape}; fix: embed the inputs first or reshape with X.reshape(len(X), -1)"
            )
        if X.shape[0] < min_rows:
            raise InputError(
                f"{name}: expected at least {min_rows} {side} examples, found {X.shape[0]}; "
                f"fix: pass a non-empty {side} sample"
            )
        if not np.isfinite(X).all():
            raise InputError(f"{name}: the {side} sample holds NaN or infinite values; fix: drop or impute them")
        arrays.append(X.astype(np.float64, copy=False))
    if arrays[0].shape[1] != arrays[1].shape[1]:
        raise InputError(
            f"{name}: source and target must have the same features, found {arrays[0].shape[1]} and "
            f"{arrays[1].shape[1]} columns; fix: embed both with the same source and layer"
        )
    return tuple(arrays)


def check_codes(name: str, codes: object, n_rows: int, what: str, n_classes: int | None = None) -> np.ndarray:
    """Integer class codes ``0..n_classes-1``, one per example, as int64 ``(n_rows,)``."""
    y = np.asarray(codes)
    if y.ndim != 1 or y.shape[0] != n_rows:
        raise InputError(
            f"{name}: expected one {what} per example ({n_rows}), found shape {y.shape}; "
            "fix: pass the labels of the same examples in the same order"
        )
    if y.size and (not np.issubdtype(y.dtype, np.integer) or y.min() < 0):
        raise InputError(
            f"{name}: expected {what} as integer class codes 0..k-1, found {y.dtype} values such as {y[:3].tolist()}; "
            "fix: encode them, e.g. np.unique(labels, return_inverse=True)[1]"
        )
    if n_classes is not None and y.size and y.max() >= n_classes:
        raise InputError(
            f"{name}: {what} must be codes below n_classes={n_classes}, found {int(y.max())}; "
            "fix: encode source and target labels over one shared list of classes"
        )
    return y.astype(np.int64, copy=False)


def subsample_rows(n_rows: int, max_rows: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: all rows, or ``max_rows`` drawn uniformly without replacement."""
    if max_rows is None or n_rows <= max_rows:
        return np.arange(n_rows)
    return np.sort(rng.choice(n_rows, size=max_rows, replace=False))


def child_seeds(random_state: int | None, n: int) -> list[int]:
    """``n`` independent integer seeds derived from one ``random_state`` (``numpy.random.SeedSequence``)."""
    return [int(s) for s in np.random.SeedSequence(random_state).generate_state(n)]


def wilson_interval(n_errors: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion (Wilson 1927).

    Chosen over the normal (Wald) interval because error rates here are often near 0 or from a
    few hundred examples, where the Wald interval undercovers (Brown, Cai, DasGupta 2001).
    """
    if n == 0:
        return 0.0, 1.0
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p = n_errors / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def finite_or_none(value: float | None) -> float | None:
    """``value`` as a float, or None where it is missing or not finite (JSON has no NaN)."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def one_blas_thread() -> AbstractContextManager[Any]:
    """Limit BLAS to one thread inside a ``with`` block.

    The small logistic-regression fits of the shift tests ran 10x slower with threaded BLAS on a
    shared 2-core machine. The controller is built once: scanning the loaded libraries costs
    about 8 ms, more than a small fit.
    """
    limited: AbstractContextManager[Any] = _controller().limit(limits=1, user_api="blas")
    return limited


@functools.cache
def _controller() -> Any:
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()
