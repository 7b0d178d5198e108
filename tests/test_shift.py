"""Shift statistics: MMD (fast == reference, power, false alarms), C2ST, BBSE, the diagnosis and the bound.

Every rate the code claims (false alarms, coverage) is checked by simulation against its nominal
level, with a two-sided binomial tolerance at 99.9 % so a correct method fails about once in a
thousand runs and a biased one (e.g. 2x the nominal rate) fails reliably.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import stats

from transferlab.errors import InputError
from transferlab.metrics import get_metric, list_metrics
from transferlab.metrics.domain_classifier import delong_auc, domain_classifier_test
from transferlab.metrics.label_shift import black_box_shift_estimation
from transferlab.metrics.mmd import _permutations, mmd_test, mmd_test_reference
from transferlab.metrics.shift_block import shift_block
from transferlab.metrics.shift_bound import ben_david_bound

CENTRES = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0]])


def binomial_band(n: int, rate: float) -> tuple[float, float]:
    lo, hi = stats.binom.interval(0.999, n, rate)
    return lo / n, hi / n


def gaussian_classes(rng: np.random.Generator, n: int, priors, shift: float = 0.0, d: int = 4):
    """Two classes apart along feature 0; ``shift`` moves feature 1 (p(y | x) unchanged)."""
    y = rng.choice(len(priors), size=n, p=priors)
    X = rng.normal(size=(n, d))
    X[:, 0] += np.where(y == 1, 1.5, -1.5)
    X[:, 1] += shift
    return X, y


def three_classes(rng: np.random.Generator, n: int, priors) -> tuple[np.ndarray, np.ndarray]:
    y = rng.choice(3, size=n, p=priors)
    return CENTRES[y] + rng.normal(size=(n, 2)), y


def nearest_centre(X: np.ndarray) -> np.ndarray:
    """A fixed classifier (the Bayes rule of ``three_classes`` under equal priors)."""
    return np.argmin(((X[:, None, :] - CENTRES[None]) ** 2).sum(-1), axis=1)


# ---------------------------------------------------------------- MMD


@pytest.mark.parametrize("stratified", [False, True])
def test_mmd_fast_equals_reference_on_the_same_permutations(stratified):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(37, 6)), rng.normal(0.2, 1.0, size=(29, 6))
    strata = {"strata_source": rng.integers(0, 3, 37), "strata_target": rng.integers(0, 3, 29)} if stratified else {}
    fast = mmd_test(X, Y, n_permutations=300, random_state=4, **strata)
    ref = mmd_test_reference(X, Y, n_permutations=300, random_state=4, **strata)
    np.testing.assert_allclose(fast.null, ref.null, rtol=0, atol=1e-12)
    assert fast.statistic == pytest.approx(ref.statistic, abs=1e-12)
    assert fast.p_value == ref.p_value and fast.stratified == stratified
    assert fast.bandwidth == ref.bandwidth


def test_permutations_stay_within_strata_and_are_uniform():
    strata = np.array([0, 1, 0, 2, 1, 0, 2, 2, 0])
    perms = np.vstack(list(_permutations(strata, 3000, np.random.default_rng(0))))
    assert perms.shape == (3000, 9)
    assert (strata[perms] == strata[None, :]).all()
    assert (np.sort(perms, axis=1) == np.arange(9)).all()
    # stratum 0 has 4 positions: each of its 4 examples lands at position 0 a quarter of the time
    share = np.bincount(perms[:, 0], minlength=9)[[0, 2, 5, 8]] / 3000
    np.testing.assert_allclose(share, 0.25, atol=0.04)


def test_mmd_detects_a_mean_shift_and_subsamples_large_inputs():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) + np.r_[0.8, np.zeros(4)]
    result = mmd_test(X, Y, n_permutations=200, max_samples=150, random_state=0)
    assert result.p_value == pytest.approx(1 / 201) and result.statistic > 0
    assert (result.n_source, result.n_source_total) == (150, 300)
    same = mmd_test(X, rng.normal(size=(300, 5)), n_permutations=200, random_state=0)
    assert same.p_value > 0.05 and abs(same.statistic) < result.statistic
    assert json.loads(json.dumps(result.to_dict()))["p_value"] == result.p_value


def test_mmd_false_alarm_rate_on_two_halves_of_one_sample():
    """500 repetitions: each draws one sample and splits it in two; rejections at 0.05 and 0.10."""
    rng = np.random.default_rng(2)
    p_values = []
    for rep in range(500):
        Z = rng.normal(size=(40, 3))
        p_values.append(mmd_test(Z[:20], Z[20:], n_permutations=99, random_state=rep).p_value)
    p_values = np.array(p_values)
    for alpha in (0.05, 0.10):
        lo, hi = binomial_band(500, alpha)
        assert lo <= np.mean(p_values <= alpha) <= hi, (alpha, np.mean(p_values <= alpha))


def test_stratified_mmd_holds_its_level_under_pure_label_shift():
    """The class-conditional test must not fire when only the class priors move (300 repetitions)."""
    rng = np.random.default_rng(3)
    plain, within = [], []
    for rep in range(300):
        Xs, ys = gaussian_classes(rng, 40, [0.5, 0.5])
        Xt, yt = gaussian_classes(rng, 40, [0.85, 0.15])
        within.append(mmd_test(Xs, Xt, 99, strata_source=ys, strata_target=yt, random_state=rep).p_value <= 0.05)
        if rep < 30:
            plain.append(mmd_test(Xs, Xt, 99, random_state=rep).p_value <= 0.05)
    lo, hi = binomial_band(300, 0.05)
    assert lo <= np.mean(within) <= hi
    assert np.mean(plain) > 0.5  # the unstratified test does see the label shift


def test_mmd_rejects_bad_input():
    X = np.zeros((10, 3))
    with pytest.raises(InputError, match="same features, found 3 and 4 columns"):
        mmd_test(X, np.zeros((10, 4)))
    with pytest.raises(InputError, match="at least 2 target examples, found 0"):
        mmd_test(X, np.zeros((0, 3)))
    with pytest.raises(InputError, match="strata for both samples"):
        mmd_test(X, X, strata_source=np.zeros(10, int))


# ---------------------------------------------------------------- domain classifier


def test_delong_matches_the_pairwise_definition():
    rng = np.random.default_rng(4)
    pos, neg = rng.normal(0.5, 1, 23).round(1), rng.normal(0, 1, 31).round(1)  # rounded: ties
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])  # (m, n)
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    auc, var = delong_auc(pos, neg)
    assert auc == pytest.approx(psi.mean())
    assert var == pytest.approx(v10.var(ddof=1) / 23 + v01.var(ddof=1) / 31)


def test_c2st_under_no_shift_holds_its_level_and_its_interval_covers_half():
    rng = np.random.default_rng(5)
    rejected, covered, aucs = [], [], []
    for rep in range(200):
        Z = rng.normal(size=(60, 3))
        r = domain_classifier_test(Z[:30], Z[30:], random_state=rep)
        rejected.append(r.p_value <= 0.05)
        covered.append(r.auc_lo <= 0.5 <= r.auc_hi)
        aucs.append(r.auc)
    assert np.mean(rejected) <= binomial_band(200, 0.05)[1]
    assert np.mean(covered) >= binomial_band(200, 0.95)[0]
    assert abs(np.mean(aucs) - 0.5) < 0.02


def test_c2st_and_proxy_a_distance_see_a_shift():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(300, 5)), rng.normal(size=(300, 5)) + np.r_[1.0, np.zeros(4)]
    r = domain_classifier_test(X, Y, random_state=0)
    assert r.auc > 0.65 and r.auc_lo > 0.5 and r.p_value < 1e-6
    assert 0.0 < r.pad_lo <= r.pad <= r.pad_hi <= 2.0
    assert r.pad == pytest.approx(2 * (1 - 2 * r.balanced_error))


@pytest.mark.parametrize("name", list_metrics("shift"))
def test_shift_metric_contract(name):
    """Every registered shift metric: a finite float, larger under shift (higher_is_better is False)."""
    metric = get_metric(name)
    rng = np.random.default_rng(7)
    X, same, moved = rng.normal(size=(120, 4)), rng.normal(size=(120, 4)), rng.normal(size=(120, 4)) + 1.0
    assert metric.kind == "shift" and not metric.higher_is_better and metric.needs == ("X_source", "X_target")
    none, shifted = metric(X, same), metric(X, moved)
    assert np.isfinite(none) and np.isfinite(shifted) and shifted > none


# ---------------------------------------------------------------- label shift


def test_bbse_recovers_known_label_shift_weights():
    rng = np.random.default_rng(8)
    priors = np.array([0.6, 0.3, 0.1])
    Xs, ys = three_classes(rng, 3000, [1 / 3] * 3)
    Xt, _ = three_classes(rng, 3000, priors)
    r = black_box_shift_estimation(ys, nearest_centre(Xs), nearest_centre(Xt), n_boot=300, random_state=0)
    np.testing.assert_allclose(r.weights, priors / (np.bincount(ys) / 3000), atol=0.15)
    np.testing.assert_allclose(r.target_priors, priors, atol=0.04)
    assert np.all(np.array(r.weights_lo) <= r.weights) and np.all(np.array(r.weights) <= r.weights_hi)
    assert r.p_value < 1e-6 and not r.ill_conditioned and r.notes == []


def test_bbse_interval_coverage_and_no_shift_test_level():
    rng = np.random.default_rng(9)
    priors = np.array([0.6, 0.3, 0.1])
    true_w = priors * 3
    covered, rejected = np.zeros(3), 0
    for rep in range(300):
        Xs, ys = three_classes(rng, 600, [1 / 3] * 3)
        Xt, _ = three_classes(rng, 600, priors)
        r = black_box_shift_estimation(ys, nearest_centre(Xs), nearest_centre(Xt), 3, n_boot=300, random_state=rep)
        covered += (np.array(r.weights_lo) <= true_w) & (true_w <= np.array(r.weights_hi))
        Xn, _ = three_classes(rng, 600, [1 / 3] * 3)
        rejected += black_box_shift_estimation(ys, nearest_centre(Xs), nearest_centre(Xn), 3, n_boot=10).p_value <= 0.05
    assert (covered / 300 >= binomial_band(300, 0.95)[0]).all(), covered / 300
    lo, hi = binomial_band(300, 0.05)
    assert lo <= rejected / 300 <= hi


def test_bbse_flags_a_classifier_that_confuses_two_classes():
    rng = np.random.default_rng(10)
    y = rng.integers(0, 3, 600)
    pred = np.where(y == 0, 0, rng.integers(1, 3, 600))  # classes 1 and 2 are coin flips
    r = black_box_shift_estimation(y, pred, pred[:300], classes=["sport", "politics", "business"], n_boot=50)
    assert r.ill_conditioned and r.min_singular_value < 0.1
    assert "confuses classes" in r.notes[0] and "'politics'" in r.notes[0] and "'business'" in r.notes[0]


def test_bbse_needs_every_class_in_the_held_out_source():
    with pytest.raises(InputError, match=r"found none of \['c'\]"):
        black_box_shift_estimation(np.array([0, 1, 0, 1]), np.array([0, 1, 0, 1]), np.array([0, 2]), 3, ["a", "b", "c"])


# ---------------------------------------------------------------- diagnosis and bound


@pytest.mark.parametrize(
    ("priors", "shift", "unlabelled", "labelled"),
    [
        ([0.5, 0.5], 0.0, "none", "none"),
        ([0.5, 0.5], 1.0, "covariate", "covariate"),
        ([0.85, 0.15], 0.0, "label", "label"),
        ([0.85, 0.15], 1.0, "covariate", "covariate+label"),  # without target labels the label part is unproven
    ],
)
def test_diagnosis_names_the_kind_of_shift(priors, shift, unlabelled, labelled):
    rng = np.random.default_rng(11)
    Xs, ys = gaussian_classes(rng, 400, [0.5, 0.5])
    Xt, yt = gaussian_classes(rng, 400, priors, shift)
    settings = {"n_permutations": 300, "n_boot": 100, "random_state": 0}
    blind = shift_block(Xs, Xt, ys, **settings)["diagnosis"]
    seen = shift_block(Xs, Xt, ys, yt, **settings)["diagnosis"]
    assert (blind["kind"], seen["kind"]) == (unlabelled, labelled), (blind["sentence"], seen["sentence"])
    assert seen["threshold"] == pytest.approx(0.05 / 4)
    assert "MMD" in seen["sentence"] and "class-conditional MMD" in seen["sentence"]


def test_diagnosis_without_labels_cannot_name_the_kind():
    rng = np.random.default_rng(12)
    Xs, _ = gaussian_classes(rng, 200, [0.5, 0.5])
    Xt, _ = gaussian_classes(rng, 200, [0.5, 0.5], shift=1.0)
    block = shift_block(Xs, Xt, n_permutations=200, random_state=0)
    assert block["diagnosis"]["kind"] == "undetermined" and block["diagnosis"]["threshold"] == 0.025
    assert block["label_shift"] is None and block["bound"] is None and "no source labels" in block["notes"][0]
    json.dumps(block)


def test_shift_block_skips_label_parts_when_label_sets_differ():
    rng = np.random.default_rng(13)
    Xs, Xt = rng.normal(size=(60, 3)), rng.normal(size=(60, 3))
    ys, yt = rng.integers(0, 2, 60), rng.integers(1, 3, 60)
    block = shift_block(Xs, Xt, ys, yt, classes=["books", "dvd", "kitchen"], n_permutations=99, random_state=0)
    assert block["label_shift"] is None and block["bound"] is None
    assert "['kitchen']" in block["notes"][0] and "['books']" in block["notes"][0]
    assert block["mmd"]["p_value"] > 0 and block["diagnosis"]["kind"] in ("none", "undetermined")


@pytest.mark.slow
def test_combined_diagnosis_false_alarm_rate():
    """No shift, labels on both sides (four tests): any claimed shift is a false alarm; at most alpha."""
    rng = np.random.default_rng(14)
    alarms = 0
    for rep in range(200):
        X, y = gaussian_classes(rng, 160, [0.5, 0.5])
        block = shift_block(X[:80], X[80:], y[:80], y[80:], n_permutations=199, n_boot=20, random_state=rep)
        alarms += block["diagnosis"]["kind"] != "none"
    assert alarms / 200 <= binomial_band(200, 0.05)[1]


def test_bound_arithmetic_and_reading():
    b = ben_david_bound(
        0.10, 400, (0.40, 0.30, 0.50), 0.5, joint_errors=(0.05, 400, 0.07, 400), target_error=(0.2, 400)
    )
    assert b.divergence == pytest.approx(0.20) and b.joint_error == pytest.approx(0.12)
    assert b.bound == pytest.approx(0.10 + 0.20 + 0.12) and b.floor == pytest.approx(0.30)
    lo, hi = b.bound_interval
    assert lo < b.bound < hi and b.status == "borderline" and "measured target error 0.200" in b.reading
    tight = ben_david_bound(0.02, 5000, (0.10, 0.08, 0.12), 0.5, joint_errors=(0.01, 5000, 0.02, 5000))
    assert tight.status == "informative" and tight.bound_interval[1] < 0.5
    far = ben_david_bound(0.10, 400, (1.90, 1.85, 1.95), 0.5)
    assert far.bound is None and far.status == "vacuous" and "the divergence alone" in far.reading
    open_ = ben_david_bound(0.10, 400, (0.40, 0.30, 0.50), 0.5)
    assert open_.status == "unknown" and "lambda < 0.200" in open_.reading
    assert json.loads(json.dumps(open_.to_dict()))["status"] == "unknown"


def test_shift_block_says_when_bbse_misses_the_measured_priors():
    """Class 1 moves towards class 0 in the target (p(x | y) changes): BBSE's label-shift assumption fails."""
    rng = np.random.default_rng(15)
    Xs, ys = gaussian_classes(rng, 400, [0.5, 0.5])
    Xt, yt = gaussian_classes(rng, 400, [0.5, 0.5])
    Xt[yt == 1, 0] -= 1.5
    block = shift_block(Xs, Xt, ys, yt, classes=["neg", "pos"], n_permutations=200, n_boot=200, random_state=0)
    assert any("BBSE's intervals miss the measured target priors of ['neg', 'pos']" in n for n in block["notes"])
    assert block["diagnosis"]["kind"] == "covariate"


def test_shift_block_uses_the_callers_held_out_probabilities():
    """A study passes its own model's probabilities on held-out source rows: every row is BBSE's held-out set."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(16)
    model = LogisticRegression().fit(*gaussian_classes(rng, 300, [0.5, 0.5]))
    Xs, ys = gaussian_classes(rng, 500, [0.5, 0.5])
    Xt, _ = gaussian_classes(rng, 500, [0.8, 0.2])
    proba = model.predict_proba(Xs), model.predict_proba(Xt)
    block = shift_block(Xs, Xt, ys, None, *proba, classes=["neg", "pos"], n_permutations=200, random_state=0)
    assert block["label_shift"]["n_source"] == 500 and block["label_shift"]["classes"] == ["neg", "pos"]
    np.testing.assert_allclose(block["label_shift"]["target_priors"], [0.8, 0.2], atol=0.06)
    assert block["diagnosis"]["kind"] == "label"
    with pytest.raises(InputError, match=r"proba_source must be \(n_source, n_classes\) with n_source = 500"):
        shift_block(Xs, Xt, ys, None, proba[0][:10], proba[1], n_permutations=50)
