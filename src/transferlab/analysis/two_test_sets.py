"""A gap between two test sets scored by the same models: paired by seed, not by example.

The transfer gap of Hu et al. (2020) is a model's accuracy on the source-language test set minus
its accuracy on the target-language one. The two sets hold different examples, so the usual
paired interval (:mod:`~transferlab.analysis.intervals`, one test set) does not apply; but each
seed's two accuracies come from one fitted model, so the seeds are paired. With ``a`` of shape
``(S, n_a)`` and ``b`` of shape ``(S, n_b)``, each a two-way crossed layout (Owen 2007) whose
seed effects may be correlated with the other's, the gap ``mean(a) - mean(b)`` has variance

    Var(seed part of d_s) / S + sigma_example_a**2 / n_a + sigma_example_b**2 / n_b

where ``d_s = mean(a[s]) - mean(b[s])``. The three pieces are estimated independently:

* ``v_seed = var(d_s, ddof=1) / S`` holds the seed effects of both sets, their correlation and
  both residual terms, on ``S - 1`` degrees of freedom;
* ``v_a`` and ``v_b``: each set's example term net of its residual, the ``v_example`` of
  :func:`~transferlab.analysis.intervals.variance_components` (the closed-form paired bootstrap,
  less the residual that ``v_seed`` already holds), on ``n_a - 1`` and ``n_b - 1``.

The half-width is ``sqrt(t(S-1)**2 v_seed + t(n_a-1)**2 v_a + t(n_b-1)**2 v_b)``, Banerjee's
(1961) conservative rule for independent variance estimates, here with three of them. The same
function serves any difference of two per-example score arrays from different test sets, e.g. a
difference in differences between two sources (``a = m_target - c_target``,
``b = m_source - c_source``). With one seed the interval is the percentile interval of a bootstrap
that resamples each test set on its own. ``tests/test_cross_lingual.py`` checks its coverage by
simulation at nominal 0.95.

References: Hu, J. et al. (2020). XTREME: a massively multilingual multi-task benchmark for
evaluating cross-lingual generalization. ICML. Banerjee, S. K. (1961), Sankhya A 23, 359-378.
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import numpy as np
from scipy import special

from transferlab.analysis.intervals import GainInterval, variance_components
from transferlab.analysis.verdicts import verdict
from transferlab.errors import InputError

METHOD = "two test sets: seed t + each set's example term (Banerjee)"
BOOTSTRAP_METHOD = "two test sets: independent example bootstraps, percentile (one seed)"


def two_set_gap_interval(
    a: np.ndarray, b: np.ndarray, confidence: float = 0.95, n_boot: int = 2000, random_state: int = 0
) -> GainInterval:
    """Interval for ``mean(a) - mean(b)``, rows paired by seed, columns from two different test sets.

    Parameters
    ----------
    a, b : arrays of shape (n_seeds, n_a) and (n_seeds, n_b)
        Per-example scores; row ``s`` of both from the models of seed ``s``.
    confidence : float
        Nominal coverage, in (0, 1).
    n_boot, random_state
        The one-seed fallback's bootstrap replicates and seed.

    Returns
    -------
    GainInterval
        ``n_examples`` is ``n_a + n_b``; ``df`` the effective degrees of freedom of the half-width.
    """
    a, b = _checked(a, b)
    n_seeds, q = a.shape[0], 0.5 + confidence / 2
    gap = float(a.mean() - b.mean())
    if n_seeds == 1:
        return _one_seed(a[0], b[0], confidence, n_boot, random_state)
    d = a.mean(axis=1) - b.mean(axis=1)  # (S,) each seed's gap
    pieces = [(d.var(ddof=1) / n_seeds, n_seeds - 1)]
    pieces += [(variance_components(x)[1], x.shape[1] - 1) for x in (a, b)]
    half = math.sqrt(sum(float(special.stdtrit(df, q)) ** 2 * v for v, df in pieces))
    se = math.sqrt(sum(v for v, _ in pieces))
    df = float(special.stdtridf(q, half / se)) if se > 0 else float(n_seeds - 1)
    df = float(np.clip(df, n_seeds - 1, a.shape[1] + b.shape[1] - 2)) if math.isfinite(df) else float(n_seeds - 1)
    return GainInterval(gap, gap - half, gap + half, se, df, n_seeds, a.shape[1] + b.shape[1], METHOD, True, confidence)


def compare_two_sets(
    a: np.ndarray,
    b: np.ndarray,
    confidence: float = 0.95,
    min_effect: float = 0.0,
    bounds: tuple[float, float] = (-1, 1),
) -> dict[str, Any]:
    """:func:`two_set_gap_interval` with a verdict, as JSON-able data like ``compare_arms``."""
    interval = two_set_gap_interval(a, b, confidence)
    result = {**asdict(interval), "min_effect": float(min_effect), "verdict": verdict(interval, min_effect)}
    result["lo"], result["hi"] = max(interval.lo, bounds[0]), min(interval.hi, bounds[1])
    return result


def _one_seed(a: np.ndarray, b: np.ndarray, confidence: float, n_boot: int, random_state: int) -> GainInterval:
    rng = np.random.default_rng(random_state)
    boot_a = a[rng.integers(0, len(a), size=(n_boot, len(a)))].mean(axis=1)  # (B,)
    boot_b = b[rng.integers(0, len(b), size=(n_boot, len(b)))].mean(axis=1)  # (B,)
    boot = boot_a - boot_b
    alpha = 1.0 - confidence
    lo, hi = np.quantile(boot, [alpha / 2, 1 - alpha / 2])
    gap, n = float(a.mean() - b.mean()), len(a) + len(b)
    return GainInterval(
        gap, float(lo), float(hi), float(boot.std(ddof=1)), float(n - 2), 1, n, BOOTSTRAP_METHOD, False, confidence
    )


def _checked(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0] or min(a.shape[1], b.shape[1]) < 2:
        raise InputError(
            "two test sets are paired by seed: expected arrays (n_seeds, n_a) and (n_seeds, n_b) with the same"
            f" n_seeds and at least 2 examples each, got shapes {a.shape} and {b.shape}"
        )
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise InputError("two test sets: expected finite per-example scores, found NaN or infinite values")
    return a, b
