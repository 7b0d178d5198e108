"""Effective data transferred (Hernandez et al. 2021) and the break-even budget between two rungs.

**Effective data.** "Scaling Laws for Transfer" measures what pretraining is worth in labelled
examples: fit the from-scratch learning curve, then ask how many examples training from
scratch would need to match the transferred model. We fit a saturating power law to the
scratch arm's per-seed points,

    err(n) = a * n**(-b) + c        (a >= 0, 0 <= b <= 3, 0 <= c <= 1),

and invert it at the transfer arm's error: ``n_eff = (a / (err - c)) ** (1 / b)``. The paper's
"effective data transferred" is ``n_eff - budget``. The interval comes from a bootstrap that
resamples the seeds at every budget (both arms) and adds each accuracy's test-set sampling
noise (binomial, ``acc (1 - acc) / n_test``), so it is not degenerate with one seed, and refits
the curve each time. The answer is "beyond the measured range" when the inverse exceeds
``extrapolation`` times the largest measured budget, or when the target error is at or below
the fitted asymptote ``c`` (no amount of scratch data reaches it on that curve), and "below the
measured range" under the smallest budget divided by ``extrapolation``.

**Break-even.** Between a cheap rung (a linear probe) and an expensive one (fine-tuning): the
budget where the expensive rung's paired gain crosses zero, interpolated in log budget, with
the range of budgets where the gain's interval still contains zero around it (pointwise
intervals inverted: below the range the expensive rung is significantly worse or the range
starts below the smallest budget; above it, it is significantly better).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

from transferlab.analysis.verdicts import compare_arms
from transferlab.errors import InputError

MIN_BUDGETS = 3  # a 3-parameter curve needs at least three distinct budgets
FLAT_RISE = 0.02  # a fitted curve gaining under 2 accuracy points over the measured budgets is flat


@dataclass(frozen=True)
class PowerLawFit:
    """``err(n) = a * n**(-b) + c`` fitted on budgets in ``[n_min, n_max]``."""

    a: float
    b: float
    c: float
    n_min: float
    n_max: float

    def error(self, n: np.ndarray | float) -> np.ndarray | float:
        """Predicted error rate at ``n`` examples."""
        return self.a * np.power(n, -self.b) + self.c

    def examples_for(self, error: float) -> float:
        """Examples from scratch that reach ``error`` (``inf`` at or below the asymptote).

        Computed in logs: on a nearly flat curve (``b`` near 0) the power overflows a float.
        """
        if error <= self.c or self.a <= 0 or self.b <= 0:
            return math.inf
        log_n = (math.log(self.a) - math.log(error - self.c)) / self.b
        return math.exp(log_n) if log_n < 700.0 else math.inf


def _power_law(n: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    return np.asarray(a * np.power(n, -b) + c)


def fit_learning_curve(budgets: Sequence[float] | np.ndarray, accuracies: Sequence[float] | np.ndarray) -> PowerLawFit:
    """Least-squares fit of :class:`PowerLawFit` to per-seed (budget, accuracy) points."""
    n, err = np.asarray(budgets, dtype=float), 1.0 - np.asarray(accuracies, dtype=float)
    if len(np.unique(n)) < MIN_BUDGETS or np.any(n <= 0) or not np.isfinite(err).all():
        raise InputError(
            f"the from-scratch learning curve needs accuracies at >= {MIN_BUDGETS} positive budgets,"
            f" got budgets {sorted(set(n.tolist()))}"
        )
    c0 = max(0.0, float(err.min()) - 0.05)
    a0 = max(float(err.max()) - c0, 1e-3) * float(n.min()) ** 0.5
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", OptimizeWarning)
        (a, b, c), _ = curve_fit(
            _power_law, n, err, p0=(a0, 0.5, c0), bounds=([0.0, 0.0, 0.0], [np.inf, 3.0, 1.0]), maxfev=5000
        )
    return PowerLawFit(float(a), float(b), float(c), float(n.min()), float(n.max()))


class ScratchCurve:
    """The from-scratch curve of one source, fitted once with its bootstrap replicates.

    Parameters
    ----------
    scratch : ``{budget: [accuracy per seed]}`` of the from-scratch baseline.
    n_test : test examples behind each accuracy (adds their sampling noise to the bootstrap).
    extrapolation : how far past the measured budgets an answer is still given.
    """

    def __init__(
        self,
        scratch: Mapping[int, Sequence[float]],
        n_test: int | None = None,
        n_boot: int = 200,
        extrapolation: float = 4.0,
        random_state: int = 0,
    ) -> None:
        self.fit = fit_learning_curve(*_points(scratch))
        self.n_test, self.extrapolation = n_test, extrapolation
        self.high, self.low = extrapolation * self.fit.n_max, self.fit.n_min / extrapolation
        self.rng = np.random.default_rng(random_state)
        self.replicates = _bootstrap_fits(scratch, n_test, n_boot, self.rng)

    def note(self) -> str:
        """A warning when the curve is too flat to price anything (scratch barely learns)."""
        rise = float(self.fit.error(self.fit.n_min) - self.fit.error(self.fit.n_max))
        if rise >= FLAT_RISE:
            return ""
        return (
            f"the from-scratch curve is flat: {rise * 100:.1f} accuracy points from {self.fit.n_min:.0f} to"
            f" {self.fit.n_max:.0f} examples (asymptote {1 - self.fit.c:.3f}). Scratch barely learns at these"
            " budgets, so the curve cannot price the transfer arms"
        )

    def effective_data(self, arm: Mapping[int, Sequence[float]], confidence: float = 0.95) -> list[dict[str, Any]]:
        """For each budget of ``arm`` (``{budget: [accuracy per seed]}``): see :func:`effective_data`."""
        return [self._row(int(b), np.asarray(arm[b], dtype=float), confidence) for b in sorted(arm)]

    def _row(self, budget: int, accs: np.ndarray, confidence: float) -> dict[str, Any]:
        target = float(accs.mean())
        n_eff = self.fit.examples_for(1.0 - target)
        draws = [f.examples_for(1.0 - _resample(accs, self.n_test, self.rng).mean()) for f in self.replicates]
        lo, hi = _quantiles(np.array(draws), confidence)
        status, reason = self._status(n_eff, target)
        return {
            "budget": budget,
            "accuracy": target,
            "effective_examples": n_eff if status in ("ok", "extrapolated") else None,
            "lo": lo if self.low <= lo <= self.high else None,
            "hi": hi if self.low <= hi <= self.high else None,
            "transferred": n_eff - budget if status in ("ok", "extrapolated") else None,
            "status": status,
            "reason": reason,
        }

    def _status(self, n_eff: float, target: float) -> tuple[str, str]:
        if math.isinf(n_eff):
            return "beyond", f"accuracy {target:.3f} is above the from-scratch curve's asymptote {1 - self.fit.c:.3f}"
        if n_eff > self.high:
            return (
                "beyond",
                f"from scratch would need over {self.high:.0f} examples ({self.extrapolation:g}x the largest budget)",
            )
        if n_eff > self.fit.n_max:
            return "extrapolated", f"past the largest measured budget ({self.fit.n_max:.0f}): read off the fitted curve"
        if n_eff < self.low:
            return "below", f"from scratch reaches it with under {self.low:.3g} examples (below the measured range)"
        return "ok", ""


def effective_data(
    scratch: Mapping[int, Sequence[float]],
    arm: Mapping[int, Sequence[float]],
    n_test: int | None = None,
    n_boot: int = 200,
    confidence: float = 0.95,
    extrapolation: float = 4.0,
    random_state: int = 0,
) -> list[dict[str, Any]]:
    """For each budget of ``arm``: examples from scratch that reach its accuracy, with an interval.

    Parameters
    ----------
    scratch, arm : ``{budget: [accuracy per seed]}`` of the from-scratch baseline and of a
        transfer arm.
    n_test : test examples behind each accuracy (adds their sampling noise to the bootstrap).
    extrapolation : how far past the measured budgets an answer is still given.

    Returns
    -------
    list of dict
        ``budget``, ``accuracy``, ``effective_examples`` (None unless ``status`` is "ok" or
        "extrapolated": past the largest measured budget, read off the fitted curve),
        ``lo``, ``hi`` (None when that end is outside the range), ``transferred``
        (``effective_examples - budget``), ``status`` ("ok", "extrapolated", "beyond", "below") and
        ``reason``.
    """
    curve = ScratchCurve(scratch, n_test, n_boot, extrapolation, random_state)
    return curve.effective_data(arm, confidence)


def _points(arm: Mapping[int, Sequence[float] | np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    budgets = np.concatenate([np.full(len(v), float(b)) for b, v in arm.items()])
    return budgets, np.concatenate([np.asarray(v, dtype=float) for v in arm.values()])


def _resample(accs: np.ndarray, n_test: int | None, rng: np.random.Generator) -> np.ndarray:
    """Seeds resampled with replacement, plus the test-set sampling noise of each accuracy."""
    draw = accs[rng.integers(0, len(accs), len(accs))]
    if n_test:
        draw = draw + rng.normal(0.0, np.sqrt(np.clip(draw * (1 - draw), 1e-4, None) / n_test))
    return np.asarray(np.clip(draw, 0.0, 1.0))


def _bootstrap_fits(
    scratch: Mapping[int, Sequence[float]], n_test: int | None, n_boot: int, rng: np.random.Generator
) -> list[PowerLawFit]:
    fits = []
    for _ in range(n_boot):
        resampled: dict[int, np.ndarray] = {
            b: _resample(np.asarray(v, dtype=float), n_test, rng) for b, v in scratch.items()
        }
        try:
            fits.append(fit_learning_curve(*_points(resampled)))
        except RuntimeError:  # a replicate the optimiser cannot fit is dropped
            continue
    return fits


def _quantiles(values: np.ndarray, confidence: float) -> tuple[float, float]:
    if len(values) == 0:
        return math.inf, math.inf
    alpha = 1.0 - confidence
    # inverted_cdf never interpolates, so infinite replicates (above the asymptote) stay valid
    lo, hi = np.quantile(values, [alpha / 2, 1 - alpha / 2], method="inverted_cdf")
    return float(lo), float(hi)


# ---------------------------------------------------------------------------------- break-even


def break_even(
    cheap_arm: Mapping[int, np.ndarray],
    expensive_arm: Mapping[int, np.ndarray],
    confidence: float = 0.95,
    min_effect: float = 0.0,
) -> dict[str, Any]:
    """The budget above which ``expensive_arm`` stops losing to / starts beating ``cheap_arm``.

    Parameters
    ----------
    cheap_arm, expensive_arm : ``{budget: scores (n_seeds, n_test)}`` per-example scores, rows
        paired by seed (shared budget samples) and columns by test example.

    Returns
    -------
    dict
        See :func:`break_even_from_gains`; ``per_budget`` holds each paired comparison.
    """
    gains = {
        int(b): compare_arms(expensive_arm[b], cheap_arm[b], confidence=confidence, min_effect=min_effect)
        for b in sorted(set(cheap_arm) & set(expensive_arm))
    }
    return break_even_from_gains(gains)


def break_even_from_gains(gains: Mapping[int, Mapping[str, Any]]) -> dict[str, Any]:
    """Break-even from per-budget gains of the expensive rung over the cheap one.

    ``gains`` maps budget to a dict with ``gain``, ``lo``, ``hi`` and ``verdict`` (as from
    :func:`~transferlab.analysis.verdicts.compare_arms`). Returns ``budget`` (where the mean
    gain crosses zero upwards, interpolated in log budget), ``lo`` / ``hi`` (where the upper and
    lower interval ends cross zero), each None when that crossing lies outside the measured
    budgets, and ``status``: "crosses", "expensive ahead throughout", "cheap not beaten in range"
    (no upward crossing within the budgets).
    """
    if not gains:
        raise InputError("break-even needs both arms at one budget or more; they share none")
    budgets = np.array(sorted(gains), dtype=float)
    gain, lo, hi = (np.array([gains[int(b)][k] for b in budgets], dtype=float) for k in ("gain", "lo", "hi"))
    estimate, lower, upper = (_up_crossing(budgets, v) for v in (gain, hi, lo))
    ahead = np.array([gains[int(b)]["verdict"] == "positive" for b in budgets])
    # statuses read the intervals, not the point estimates: a gain is "ahead" only where its
    # whole interval is above the margin
    if ahead.all():
        status, estimate = "expensive ahead throughout", None
    elif not ahead.any():
        status, estimate = "cheap not beaten in range", None
    elif estimate is not None:
        status = "crosses"
    else:
        status = "no clear crossing"
    keys = ("gain", "lo", "hi", "verdict", "n_seeds")
    per_budget = [{"budget": int(b), **{k: gains[int(b)].get(k) for k in keys}} for b in budgets]
    return {"budget": estimate, "lo": lower, "hi": upper, "status": status, "per_budget": per_budget}


def _up_crossing(budgets: np.ndarray, values: np.ndarray) -> float | None:
    """Budget of the last crossing of ``values`` from <= 0 to > 0 (log-linear), None outside the range."""
    if values[-1] <= 0 or np.all(values > 0):
        return None
    i = int(np.flatnonzero(values <= 0)[-1])  # values[i] <= 0 < values[i + 1]
    t = -values[i] / (values[i + 1] - values[i])
    log_b = np.log2(budgets[i]) + t * (np.log2(budgets[i + 1]) - np.log2(budgets[i]))
    return float(2.0**log_b)
