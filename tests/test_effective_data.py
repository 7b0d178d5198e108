"""Effective data transferred on a synthetic learning curve with a known answer, and break-even."""

from __future__ import annotations

import math

import numpy as np
import pytest

from transferlab.analysis.effective_data import (
    break_even,
    break_even_from_gains,
    effective_data,
    fit_learning_curve,
)
from transferlab.errors import InputError

BUDGETS = (10, 40, 160, 640)


def true_error(n: float) -> float:
    """The synthetic from-scratch curve: err(n) = 2 n^-0.5 + 0.1 (asymptote: 90% accuracy)."""
    return 2.0 * n**-0.5 + 0.1


def scratch_points(noise: float = 0.0, seeds: int = 3) -> dict[int, list[float]]:
    rng = np.random.default_rng(0)
    return {b: list(1 - true_error(b) + rng.normal(0, noise, seeds)) for b in BUDGETS}


def test_fit_recovers_the_curve():
    budgets = [b for b in BUDGETS for _ in range(3)]
    fit = fit_learning_curve(budgets, [1 - true_error(b) for b in budgets])
    assert fit.a == pytest.approx(2.0, rel=1e-3) and fit.b == pytest.approx(0.5, rel=1e-3)
    assert fit.c == pytest.approx(0.1, abs=1e-3)
    assert fit.examples_for(true_error(100)) == pytest.approx(100, rel=1e-3)
    assert math.isinf(fit.examples_for(0.05))  # below the asymptote: never reached


def test_effective_data_known_answer():
    arm = {10: [1 - true_error(100)] * 3}  # 10 labels with transfer = 100 from scratch
    (row,) = effective_data(scratch_points(), arm, n_test=None)
    assert row["status"] == "ok"
    assert row["effective_examples"] == pytest.approx(100, rel=1e-2)
    assert row["transferred"] == pytest.approx(90, rel=1e-2)
    assert row["lo"] == pytest.approx(100, rel=1e-2) and row["hi"] == pytest.approx(100, rel=1e-2)  # no noise


def test_effective_data_interval_covers_the_truth_with_noise():
    arm = {10: [1 - true_error(100)] * 3}
    (row,) = effective_data(scratch_points(noise=0.01), arm, n_test=500)
    assert row["status"] == "ok"
    assert row["lo"] is not None and row["hi"] is not None
    assert row["lo"] < 100 < row["hi"] and row["hi"] / row["lo"] > 1.2


def test_beyond_the_measured_range():
    arm = {40: [1 - true_error(10_000)] * 3, 160: [0.95] * 3}  # 10k > 4 x 640; 95% > the 90% asymptote
    rows = effective_data(scratch_points(), arm)
    assert [r["status"] for r in rows] == ["beyond", "beyond"]
    assert rows[0]["effective_examples"] is None and "4x the largest budget" in rows[0]["reason"]
    assert "asymptote" in rows[1]["reason"]


def test_below_the_measured_range():
    (row,) = effective_data(scratch_points(), {10: [1 - true_error(1.0)] * 3})
    assert row["status"] == "below" and row["effective_examples"] is None


def test_curve_needs_three_budgets():
    with pytest.raises(InputError, match=">= 3 positive budgets"):
        fit_learning_curve([10, 10, 40], [0.5, 0.5, 0.6])


GAINS = {  # expensive - cheap: loses at 10, ties at 40, wins from 160
    10: {"gain": -0.10, "lo": -0.15, "hi": -0.05, "verdict": "negative"},
    40: {"gain": -0.02, "lo": -0.07, "hi": 0.03, "verdict": "inconclusive"},
    160: {"gain": 0.06, "lo": 0.01, "hi": 0.11, "verdict": "positive"},
    640: {"gain": 0.15, "lo": 0.10, "hi": 0.20, "verdict": "positive"},
}


def test_break_even_from_gains():
    result = break_even_from_gains(GAINS)
    assert result["status"] == "crosses"
    assert result["budget"] == pytest.approx(40 * 2**0.5)  # a quarter of the way from 40 to 160 in log2
    assert result["lo"] == pytest.approx(10 * 2**1.25)  # the interval's upper end crosses 0
    assert result["hi"] == pytest.approx(40 * 2**1.75)  # its lower end crosses 0
    assert [g["verdict"] for g in result["per_budget"]] == ["negative", "inconclusive", "positive", "positive"]


def test_break_even_outside_the_range():
    ahead = {b: {**g, "gain": 0.1, "lo": 0.05, "hi": 0.15, "verdict": "positive"} for b, g in GAINS.items()}
    result = break_even_from_gains(ahead)
    assert result["status"] == "expensive ahead throughout" and result["budget"] is None
    behind = {b: {**g, "gain": -0.1, "lo": -0.15, "hi": -0.05, "verdict": "negative"} for b, g in GAINS.items()}
    assert break_even_from_gains(behind)["status"] == "cheap not beaten in range"


def test_break_even_from_paired_scores():
    rng = np.random.default_rng(1)
    cheap, expensive = {}, {}
    for budget, p_expensive in ((10, 0.6), (40, 0.75), (160, 0.95), (640, 0.99)):
        base = (rng.random((3, 400)) < 0.8).astype(float)  # (seeds, test examples)
        cheap[budget] = base
        expensive[budget] = (rng.random((3, 400)) < p_expensive).astype(float)
    result = break_even(cheap, expensive)
    assert result["per_budget"][0]["verdict"] == "negative" and result["per_budget"][-1]["verdict"] == "positive"
    assert result["status"] == "crosses" and 40 < result["budget"] < 160


def test_flat_scratch_curve_is_flagged_and_does_not_overflow():
    from transferlab.analysis.effective_data import ScratchCurve

    flat = {10: [0.19, 0.21], 20: [0.2, 0.18], 40: [0.21, 0.2]}  # chance level for 5 classes
    curve = ScratchCurve(flat, n_test=60, n_boot=50)
    assert "flat" in curve.note()
    rows = curve.effective_data({10: [0.8, 0.85]})
    assert rows[0]["status"] == "beyond" and "e+" not in rows[0]["reason"]
