"""Gain intervals and verdicts checked by simulations where the true gain is known.

Binomial yardstick for the simulation checks: with N simulated comparisons and a true rate p,
the observed rate has sd sqrt(p (1 - p) / N); at p = 0.95 and N = 2000 that is 0.0049, so the
coverage window [0.92, 0.985] sits 6 sd below and 7 sd above nominal: a method at nominal
coverage cannot fail it by chance, one at 0.90 (too narrow) or 0.995 (absurdly wide) always
does. Every simulation uses a fixed seed, so each observed number is deterministic.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from transferlab.analysis import (
    VERDICTS,
    GainInterval,
    compare_arms,
    mean_interval,
    paired_gain_interval,
    verdict,
)
from transferlab.errors import InputError


def simulate_arms(
    random_state: int,
    n_sims: int,
    gain: float,
    seed_sd: float,
    example_sd: float = 0.0,
    n_seeds: int = 3,
    n_examples: int = 300,
) -> tuple[np.ndarray, np.ndarray]:
    """Per-example correctness (0/1) of an arm and a baseline, each (n_sims, n_seeds, n_examples).

    Both arms share each example's difficulty (the pairing that makes a paired analysis pay);
    the arm helps some examples and hurts others by ``example_sd``; every (arm, seed) has its own
    random effect of sd ``seed_sd``; 70 % of the Bernoulli draws share their uniform between the
    arms, so the same examples tend to be missed by both. The probabilities never leave [0, 1],
    so the true gain, over new examples and new seeds, is exactly ``gain``.
    """
    rng = np.random.default_rng(random_state)
    shape = (n_sims, n_seeds, n_examples)
    difficulty = rng.uniform(0.35, 0.55, (n_sims, 1, n_examples))
    helps = example_sd * rng.choice([-1.0, 1.0], (n_sims, 1, n_examples))
    p_arm = difficulty + gain + helps + rng.normal(0.0, seed_sd, (n_sims, n_seeds, 1))
    p_base = difficulty + rng.normal(0.0, seed_sd, (n_sims, n_seeds, 1))
    assert min(p_arm.min(), p_base.min()) >= 0.0 and max(p_arm.max(), p_base.max()) <= 1.0
    u_base = rng.random(shape)
    u_arm = np.where(rng.random(shape) < 0.7, u_base, rng.random(shape))
    return (u_arm < p_arm).astype(float), (u_base < p_base).astype(float)


def run_intervals(a: np.ndarray, b: np.ndarray) -> list[GainInterval]:
    return [paired_gain_interval(a[k], b[k]) for k in range(a.shape[0])]


def coverage(intervals: list[GainInterval], truth: float) -> float:
    return float(np.mean([iv.lo <= truth <= iv.hi for iv in intervals]))


def false_verdict_rate(intervals: list[GainInterval]) -> float:
    return float(np.mean([verdict(iv) != "inconclusive" for iv in intervals]))


# --- coverage of a known gain -------------------------------------------------------------------


@pytest.mark.parametrize(
    "seed_sd",
    [
        0.02,  # seed effects about as large as the Bernoulli noise (observed coverage 0.959)
        0.0,  # no seed effects: the seed term is noise on 2 df, kept honestly (0.9675)
        0.05,  # strong seed effects: seed means dominate, exact t on 2 df (0.954)
    ],
)
def test_interval_covers_known_gain(seed_sd: float) -> None:
    a, b = simulate_arms(1, n_sims=2000, gain=0.03, seed_sd=seed_sd, example_sd=0.15)
    assert 0.92 <= coverage(run_intervals(a, b), truth=0.03) <= 0.985


def test_ignoring_seeds_undercovers_with_strong_seed_effects() -> None:
    # The check above has teeth: an example-only interval (se from example means, z quantile,
    # what resampling examples alone estimates) misses the truth far more than 5 % of the time.
    a, b = simulate_arms(2, n_sims=2000, gain=0.03, seed_sd=0.05, example_sd=0.15)
    d_examples = (a - b).mean(axis=1)  # (n_sims, n_examples)
    se = d_examples.std(axis=1, ddof=1) / np.sqrt(d_examples.shape[1])
    naive = np.mean(np.abs(d_examples.mean(axis=1) - 0.03) <= 1.96 * se)
    assert naive < 0.7  # observed 0.581


# --- null comparisons: the same strategy run with other seeds ------------------------------------


@pytest.mark.parametrize("seed_sd", [0.02, 0.05])  # observed rates 0.0473 and 0.0418
def test_null_comparisons_rarely_get_a_verdict(seed_sd: float) -> None:
    # 4000 comparisons: at a true rate of 5 % the observed rate has sd 0.0034, so a method
    # with a true rate of 6.5 % or more would fail `<= 0.05` with near certainty.
    a, b = simulate_arms(3, n_sims=4000, gain=0.0, seed_sd=seed_sd)
    assert false_verdict_rate(run_intervals(a, b)) <= 0.05


def test_null_rate_is_not_absurdly_conservative() -> None:
    # When seed effects dominate, the interval is the exact t interval on the seed means, so the
    # false-verdict rate must be near 5 % (observed 0.046): a method twice as wide would give
    # about 0.1 %.
    a, b = simulate_arms(4, n_sims=4000, gain=0.0, seed_sd=0.05)
    intervals = run_intervals(a, b)
    assert 0.035 <= false_verdict_rate(intervals) <= 0.05
    # and its width is within 2x the width of an oracle z interval that knows the true sd
    true_sd = np.std([iv.gain for iv in intervals])
    median_width = np.median([iv.hi - iv.lo for iv in intervals])
    assert median_width / (2 * 1.96 * true_sd) < 2.0  # observed 1.85: t(2) on 3 seeds costs this


def test_large_gain_is_detected() -> None:
    a, b = simulate_arms(5, n_sims=400, gain=0.15, seed_sd=0.015, example_sd=0.1, n_examples=500)
    verdicts = [verdict(iv) for iv in run_intervals(a, b)]
    assert verdicts.count("positive") / len(verdicts) >= 0.97  # observed 0.9875
    assert "negative" not in verdicts


# --- reference values ---------------------------------------------------------------------------


def test_without_example_effects_interval_is_the_t_interval_of_seed_means() -> None:
    seed_gains = np.array([0.02, 0.05, 0.035, 0.01])
    d = np.repeat(seed_gains[:, None], 50, axis=1)  # (4, 50): every example gains the same
    interval = paired_gain_interval(d, np.zeros_like(d), confidence=0.9)
    lo, hi = stats.t.interval(0.9, df=3, loc=seed_gains.mean(), scale=stats.sem(seed_gains))
    assert (interval.lo, interval.hi) == pytest.approx((lo, hi), rel=1e-9)
    assert interval.df == pytest.approx(3.0)
    assert interval.seed_variation_measured


def test_interval_matches_variance_components_by_hand() -> None:
    d = np.array([[1.0, 0.0, 2.0, 1.0, 0.0], [2.0, 0.0, 3.0, 1.0, 1.0], [1.0, 1.0, 2.0, 0.0, 0.0]])
    n_seeds, n_examples = d.shape
    ms_seed = n_examples * d.mean(axis=1).var(ddof=1)
    ms_item = n_seeds * d.mean(axis=0).var(ddof=1)
    resid = d - d.mean(axis=1, keepdims=True) - d.mean(axis=0, keepdims=True) + d.mean()
    ms_res = (resid**2).sum() / ((n_seeds - 1) * (n_examples - 1))
    v_seed, v_item = ms_seed / d.size, (ms_item - ms_res) / d.size
    t_seed, t_item = stats.t.ppf(0.975, n_seeds - 1), stats.t.ppf(0.975, n_examples - 1)
    half = np.sqrt(t_seed**2 * v_seed + t_item**2 * v_item)
    interval = mean_interval(d)
    assert interval.gain == pytest.approx(d.mean())
    assert interval.se == pytest.approx(np.sqrt(v_seed + v_item))
    assert (interval.lo, interval.hi) == pytest.approx((d.mean() - half, d.mean() + half))
    assert stats.t.ppf(0.975, interval.df) * interval.se == pytest.approx(half)


# --- one seed, verdicts, JSON, errors -----------------------------------------------------------


def test_one_seed_falls_back_to_example_bootstrap_and_says_so() -> None:
    a, b = simulate_arms(6, n_sims=1, gain=0.05, seed_sd=0.0, n_seeds=1, n_examples=400)
    first = paired_gain_interval(a[0], b[0], random_state=7)
    assert first == paired_gain_interval(a[0], b[0], random_state=7)
    assert not first.seed_variation_measured
    assert first.n_seeds == 1 and "one seed" in first.method
    assert first.lo < first.gain < first.hi
    # percentile interval of the example bootstrap: half-width close to 1.96 example-level se
    d = a[0, 0] - b[0, 0]
    assert (first.hi - first.lo) / 2 == pytest.approx(1.96 * d.std(ddof=1) / np.sqrt(400), rel=0.1)


def test_verdict_uses_a_symmetric_margin() -> None:
    def interval(lo: float, hi: float) -> GainInterval:
        return GainInterval((lo + hi) / 2, lo, hi, 0.01, 2.0, 3, 100, "test", True)

    assert verdict(interval(0.01, 0.05)) == "positive"
    assert verdict(interval(0.01, 0.05), min_effect=0.02) == "inconclusive"
    assert verdict(interval(-0.05, -0.01)) == "negative"
    assert verdict(interval(-0.05, -0.01), min_effect=0.02) == "inconclusive"
    assert verdict(interval(-0.01, 0.05)) == "inconclusive"
    assert set(VERDICTS) == {"positive", "negative", "inconclusive"}


def test_compare_arms_returns_plain_json() -> None:
    a, b = simulate_arms(8, n_sims=1, gain=0.15, seed_sd=0.01, n_examples=500)
    result = compare_arms(a[0], b[0], min_effect=0.02)
    assert json.loads(json.dumps(result)) == result
    assert result["verdict"] == "positive"
    assert result["lo"] < result["gain"] < result["hi"]
    assert result["method"] == paired_gain_interval(a[0], b[0]).method


@pytest.mark.parametrize(
    ("a", "b", "match"),
    [
        (np.zeros(10), np.zeros(10), r"expected a 2-D array .* got shape \(10,\).*reshape\(1, -1\)"),
        (np.zeros((3, 10)), np.zeros((3, 9)), r"same shape .* got a \(3, 10\) and b \(3, 9\)"),
        (np.zeros((3, 1)), np.zeros((3, 1)), r"n_examples >= 2, got shape \(3, 1\)"),
        (np.full((2, 5), np.nan), np.zeros((2, 5)), r"found 10 NaN or infinite"),
        ([["x", "y"]], [["x", "y"]], r"expected numeric per-example scores"),
    ],
)
def test_bad_inputs_raise_input_error(a: object, b: object, match: str) -> None:
    with pytest.raises(InputError, match=match):
        paired_gain_interval(a, b)


def test_bad_settings_raise_input_error() -> None:
    d = np.zeros((3, 10))
    with pytest.raises(InputError, match="'confidence' must be a float in"):
        paired_gain_interval(d, d, confidence=95)
    with pytest.raises(InputError, match="'n_boot' must be an integer >= 100"):
        mean_interval(d, n_boot=10)
    with pytest.raises(InputError, match="'min_effect' must be a finite float >= 0"):
        compare_arms(d, d, min_effect=-0.01)


def test_gain_interval_is_clipped_to_what_a_difference_of_accuracies_can_reach():
    from transferlab.analysis.verdicts import compare_arms

    rng = np.random.default_rng(0)
    a = np.stack([rng.random(50) < 0.95, rng.random(50) < 0.05]).astype(float)  # two seeds that disagree wildly
    b = np.zeros((2, 50))
    raw = compare_arms(a, b)
    clipped = compare_arms(a, b, bounds=(-1.0, 1.0))
    assert raw["hi"] > 1.0 and raw["lo"] < -1.0  # t with 1 degree of freedom: 12.7 x the seed spread
    assert (clipped["lo"], clipped["hi"]) == (-1.0, 1.0)
    assert clipped["verdict"] == raw["verdict"] == "inconclusive" and clipped["gain"] == raw["gain"]
