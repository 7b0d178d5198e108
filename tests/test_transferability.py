"""Transferability scores: reference values, the registry contract, and the bootstrap helpers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import weightedtau

from transferlab.analysis.rank_agreement import kendall_tau, top1_hit, weighted_tau
from transferlab.errors import InputError
from transferlab.metrics import get_metric, list_metrics
from transferlab.metrics.transferability import (
    bootstrap_scores,
    leep,
    logme,
    logme_reference,
    nce,
    prob_best,
    score_with_uncertainty,
    stratified_bootstrap,
)

N_PER_CLASS, N_CLASSES, DIM, N_SOURCE_CLASSES = 15, 3, 6, 5
TRANSFERABILITY = list_metrics("transferability")


def _softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.fixture(scope="module")
def task() -> dict[str, np.ndarray]:
    """45 examples, 3 well-separated classes in 6-D, a random softmax, and an informative one."""
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(N_CLASSES), N_PER_CLASS)
    features = 3.0 * rng.normal(size=(N_CLASSES, DIM))[labels] + rng.normal(size=(labels.size, DIM))
    source_of_class = np.eye(N_SOURCE_CLASSES)[[0, 2, 4]]  # target class c mostly predicted as 2c
    return {
        "features": features,
        "labels": labels,
        "random_labels": rng.permutation(labels),
        "random_proba": _softmax(rng.normal(size=(labels.size, N_SOURCE_CLASSES))),
        "informative_proba": _softmax(4.0 * source_of_class[labels] + rng.normal(size=(labels.size, N_SOURCE_CLASSES))),
    }


def _first_input(name: str, task: dict[str, np.ndarray], informative: bool = False) -> np.ndarray:
    """What the metric reads besides labels: features, or a source softmax for LEEP-like scores."""
    if get_metric(name).needs[0] == "source_proba":
        return task["informative_proba"] if informative else task["random_proba"]
    return task["features"]


# --- LogME -------------------------------------------------------------------------------------


def _brute_force_max_evidence(F: np.ndarray, y: np.ndarray) -> float:
    """max over log-grids of (alpha, beta) of log N(y; 0, F F^T / alpha + I / beta), refined twice."""
    n = F.shape[0]

    def evidence(log_a: float, log_b: float) -> float:
        cov = F @ F.T / np.exp(log_a) + np.eye(n) / np.exp(log_b)  # marginal covariance of y
        _, logdet = np.linalg.slogdet(cov)
        return -0.5 * (y @ np.linalg.solve(cov, y) + logdet + n * np.log(2 * np.pi))

    centre, half_width = (0.0, 0.0), 12.0
    for _ in range(3):  # coarse grid, then two finer grids around the best point
        axes = [np.linspace(c - half_width, c + half_width, 41) for c in centre]
        values = np.array([[evidence(a, b) for b in axes[1]] for a in axes[0]])
        i, j = np.unravel_index(np.argmax(values), values.shape)
        centre, half_width = (axes[0][i], axes[1][j]), half_width / 10
    return float(values.max())


@pytest.mark.parametrize(
    ("n", "d", "target", "seed"),
    [
        (30, 4, "linear", 0),
        (40, 8, "linear", 1),
        (12, 20, "linear", 2),
        (40, 5, "class", 3),
        (12, 30, "class", 4),
    ],
)
def test_logme_fixed_point_maximises_the_evidence(n: int, d: int, target: str, seed: int) -> None:
    # (12, 30, "class"): n < d, the target is interpolated exactly and the maximum is the limit
    # beta -> inf, which the fixed point must approach from inside the grid's range
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, d))
    if target == "linear":
        y = F @ rng.normal(size=d) + 0.5 * rng.normal(size=n)
    else:
        y = (np.arange(n) % 3 == 0).astype(float)  # one column of a one-hot encoding
    ours = logme(F, y, regression=True) * n
    grid = _brute_force_max_evidence(F, y)
    assert ours >= grid - 1e-6 * abs(grid)
    assert ours == pytest.approx(grid, rel=1e-3)


@pytest.mark.parametrize(("n", "d", "n_classes", "seed"), [(60, 8, 3, 0), (200, 30, 5, 1), (20, 50, 4, 2)])
def test_logme_matches_reference(n: int, d: int, n_classes: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    features = rng.normal(size=(n_classes, d))[labels] + rng.normal(size=(n, d))
    assert logme(features, labels) == pytest.approx(logme_reference(features, labels), abs=1e-5)


def test_logme_regression_is_the_mean_over_target_columns(task: dict[str, np.ndarray]) -> None:
    F, labels = task["features"], task["labels"]
    one_hot = np.eye(N_CLASSES)[labels]
    per_column = [logme(F, one_hot[:, c], regression=True) for c in range(N_CLASSES)]
    assert logme(F, one_hot, regression=True) == pytest.approx(np.mean(per_column), rel=1e-10)
    assert logme(F, labels) == pytest.approx(np.mean(per_column), rel=1e-10)


def test_logme_prefers_targets_the_features_predict(task: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(3)
    F = task["features"]
    predictable = F @ rng.normal(size=DIM) + 0.1 * rng.normal(size=F.shape[0])
    assert logme(F, predictable, regression=True) > logme(F, rng.normal(size=F.shape[0]), regression=True)


# --- LEEP and NCE by hand ----------------------------------------------------------------------

HAND_PROBA = np.array(
    [[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.6, 0.3, 0.1], [0.2, 0.2, 0.6], [0.3, 0.4, 0.3], [0.5, 0.1, 0.4]]
)
HAND_LABELS = np.array([0, 1, 0, 1, 1, 0])


def test_leep_matches_its_definition() -> None:
    n, n_source = HAND_PROBA.shape
    joint = [[0.0] * n_source for _ in range(2)]
    for i in range(n):
        for z in range(n_source):
            joint[HAND_LABELS[i]][z] += HAND_PROBA[i, z] / n
    marginal = [joint[0][z] + joint[1][z] for z in range(n_source)]
    total = 0.0
    for i in range(n):
        eep = sum(joint[HAND_LABELS[i]][z] / marginal[z] * HAND_PROBA[i, z] for z in range(n_source))
        total += np.log(eep)
    assert leep(HAND_PROBA, HAND_LABELS) == pytest.approx(total / n, rel=1e-12)


def test_nce_matches_its_definition() -> None:
    # argmax labels z = [0, 1, 0, 2, 1, 0]; pairs (y, z): (0,0) x3, (1,1) x2, (1,2) x1: Y is a
    # function of Z, so H(Y | Z) = 0
    assert nce(HAND_PROBA, HAND_LABELS) == pytest.approx(0.0, abs=1e-12)
    # flip example 0 to class 1: z = 0 now holds labels {1, 0, 0}, H = -(1/3 log 1/3 + 2/3 log 2/3) / 2
    flipped = HAND_LABELS.copy()
    flipped[0] = 1
    expected = 0.5 * (np.log(1 / 3) / 3 + 2 / 3 * np.log(2 / 3))
    assert nce(HAND_PROBA, flipped) == pytest.approx(expected, rel=1e-12)


# --- contract over every registered transferability score --------------------------------------


def test_registry_lists_the_builtin_scores() -> None:
    expected = {"logme", "leep", "nce", "nleep", "hscore", "gbc", "transrate", "knn-loo", "linear-cv"}
    assert expected <= set(TRANSFERABILITY)
    assert all(get_metric(name).higher_is_better for name in TRANSFERABILITY)


@pytest.mark.parametrize("name", TRANSFERABILITY)
def test_invariant_to_example_order(name: str, task: dict[str, np.ndarray]) -> None:
    X, labels = _first_input(name, task), task["labels"]
    order = np.random.default_rng(1).permutation(labels.size)
    metric = get_metric(name)
    assert metric(X[order], labels[order]) == pytest.approx(metric(X, labels), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("name", TRANSFERABILITY)
def test_invariant_to_renaming_classes(name: str, task: dict[str, np.ndarray]) -> None:
    X, labels = _first_input(name, task), task["labels"]
    renamed = np.array([7, 3, 11])[labels]  # a permutation of the ids, and not 0..C-1
    metric = get_metric(name)
    assert metric(X, renamed) == pytest.approx(metric(X, labels), rel=1e-8, abs=1e-12)


@pytest.mark.parametrize("name", TRANSFERABILITY)
def test_higher_for_separated_classes_than_random_labels(name: str, task: dict[str, np.ndarray]) -> None:
    X, metric = _first_input(name, task, informative=True), get_metric(name)
    assert metric(X, task["labels"]) > metric(X, task["random_labels"])


def _wide_task() -> tuple[np.ndarray, np.ndarray, np.random.Generator]:
    """n = 60 < d = 100: GBC takes its PCA path, the plain feature covariance is singular."""
    rng = np.random.default_rng(5)
    labels = np.repeat(np.arange(3), 20)
    return 2.0 * rng.normal(size=(3, 100))[labels] + rng.normal(size=(labels.size, 100)), labels, rng


@pytest.mark.parametrize("name", ["gbc", "nleep", "hscore", "logme", "transrate"])
def test_wide_features(name: str) -> None:
    X, labels, rng = _wide_task()
    order = rng.permutation(labels.size)
    metric = get_metric(name)
    value = metric(X, labels)
    assert np.isfinite(value)
    assert metric(X[order], labels[order]) == pytest.approx(value, rel=1e-8, abs=1e-12)
    assert value > metric(X, rng.permutation(labels))


def test_plain_hscore_degenerates_when_n_below_d_and_shrinkage_fixes_it() -> None:
    # with a singular covariance the pseudo-inverse whitens the span exactly, so the plain H-score
    # is C - 1 for any labelling (Ibrahim et al. 2022); the shrunk one still separates them
    X, labels, rng = _wide_task()
    random_labels = rng.permutation(labels)
    raw = get_metric("hscore-raw")
    assert raw(X, labels) == pytest.approx(N_CLASSES - 1, rel=1e-6)
    assert raw(X, random_labels) == pytest.approx(N_CLASSES - 1, rel=1e-6)
    assert get_metric("hscore")(X, labels) > get_metric("hscore")(X, random_labels) + 0.1


def _single_class(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X, np.zeros_like(labels)


def _singleton_class(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    labels = labels.copy()
    labels[0] = 99
    return X, labels


def _nan_row(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = X.copy()
    X[3, 1] = np.nan
    return X, labels


def _short_labels(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X, labels[:-1]


def _one_dimensional(X: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return X[:, 0], labels


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (_single_class, "at least 2 classes, found only class 0"),
        (_singleton_class, "at least 2 examples per class, found 1 for class 99"),
        (_nan_row, "expected finite .* found 1 NaN/inf"),
        (_short_labels, "one label per example, found 45 rows and 44 labels"),
        (_one_dimensional, "2-D array .* found shape \\(45,\\)"),
    ],
)
@pytest.mark.parametrize("name", TRANSFERABILITY)
def test_bad_input_raises_input_error(name: str, corrupt, message: str, task: dict[str, np.ndarray]) -> None:
    X, labels = corrupt(_first_input(name, task), task["labels"])
    with pytest.raises(InputError, match=message):
        get_metric(name)(X, labels)


def test_error_message_is_one_line_with_a_fix(task: dict[str, np.ndarray]) -> None:
    with pytest.raises(InputError) as caught:
        logme(task["features"], np.zeros(len(task["labels"]), dtype=int))
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("logme: expected") and "fix:" in str(caught.value)


def test_leep_rejects_non_probabilities(task: dict[str, np.ndarray]) -> None:
    with pytest.raises(InputError, match="apply a softmax"):
        leep(task["random_proba"] * 2.0, task["labels"])


def test_float_class_labels_must_be_integers(task: dict[str, np.ndarray]) -> None:
    assert logme(task["features"], task["labels"].astype(float)) == pytest.approx(
        logme(task["features"], task["labels"]), rel=1e-12
    )
    with pytest.raises(InputError, match="integer class labels"):
        logme(task["features"], task["labels"] + 0.5)


# --- bootstrap ---------------------------------------------------------------------------------


def test_stratified_bootstrap_keeps_two_distinct_examples_per_class() -> None:
    labels = np.array([0, 0, 1, 1, 1, 2, 2])
    samples = stratified_bootstrap(labels, n_boot=200, random_state=0)
    assert samples.shape == (200, labels.size)
    for idx in samples:
        assert np.array_equal(np.sort(labels[idx]), np.sort(labels))  # class sizes preserved
        for c in range(3):
            assert np.unique(idx[labels[idx] == c]).size >= 2


def test_score_with_uncertainty(task: dict[str, np.ndarray]) -> None:
    result = score_with_uncertainty("logme", task["features"], task["labels"], n_boot=20, random_state=0)
    assert set(result) == {"value", "std", "lo", "hi"}
    assert result["value"] == pytest.approx(logme(task["features"], task["labels"]))
    assert result["std"] > 0
    assert result["lo"] < result["hi"]
    again = score_with_uncertainty("logme", task["features"], task["labels"], n_boot=20, random_state=0)
    assert again == result


def test_bootstrap_is_paired_and_prob_best_picks_the_better_source(task: dict[str, np.ndarray]) -> None:
    noise = np.random.default_rng(4).normal(size=task["features"].shape)
    sources = {"good": task["features"], "copy": task["features"].copy(), "noise": noise}
    samples = bootstrap_scores("logme", sources, task["labels"], n_boot=25, random_state=0)
    assert {k: v.shape for k, v in samples.items()} == {"good": (25,), "copy": (25,), "noise": (25,)}
    np.testing.assert_array_equal(samples["good"], samples["copy"])  # same indices for every source
    assert prob_best(samples) == {"good": 0.5, "copy": 0.5, "noise": 0.0}


def test_prob_best_counts_firsts_and_splits_ties() -> None:
    samples = {"a": np.array([1.0, 2.0, 3.0, 0.0]), "b": np.array([0.0, 5.0, 1.0, 0.0])}
    assert prob_best(samples) == {"a": 0.625, "b": 0.375}
    assert prob_best(samples, higher_is_better=False) == {"a": 0.375, "b": 0.625}
    with pytest.raises(InputError, match="same length"):
        prob_best({"a": np.zeros(3), "b": np.zeros(4)})


# --- rank agreement ----------------------------------------------------------------------------


def test_rank_agreement_helpers() -> None:
    outcomes = np.array([0.9, 0.7, 0.8, 0.5])
    assert kendall_tau(outcomes * 2, outcomes) == pytest.approx(1.0)
    assert kendall_tau(-outcomes, outcomes) == pytest.approx(-1.0)
    scores = np.array([3.0, 2.5, 1.0, 0.5])
    assert weighted_tau(scores, outcomes) == pytest.approx(weightedtau(scores, outcomes).statistic)
    assert top1_hit(scores, outcomes)
    assert not top1_hit(np.array([1.0, 2.0, 0.0, 0.0]), outcomes)
    assert top1_hit({"a": 1.0, "b": 0.0}, {"b": 0.1, "a": 0.3})
    with pytest.raises(InputError, match="same length"):
        kendall_tau([1.0, 2.0], [1.0, 2.0, 3.0])
