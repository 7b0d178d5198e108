"""Domain adaptation on features, importance weights and the unsupervised validators.

Tiny synthetic shifted data sets with known answers: a target that is a scaled and shifted
copy of the source (CORAL), a rotated copy (subspace alignment, self-training), two Gaussians
with a known density ratio (importance weights, IWV, DEV).
"""

from __future__ import annotations

import numpy as np
import pytest
import sklearn
from scipy.stats import spearmanr

from transferlab.errors import InputError
from transferlab.metrics.density_ratio import (
    domain_classifier_weights,
    effective_sample_size,
    kmm_weights,
    truncate_weights,
)
from transferlab.metrics.validators import (
    cross_entropy,
    dev_score,
    entropy_score,
    importance_weighted_score,
    pick_regret,
    snd_score,
    source_risk_score,
    validator_picks,
    validator_scores,
)
from transferlab.skada_compat import import_skada
from transferlab.strategies import Examples, create_strategy
from transferlab.strategies.adapt_samples import select_pseudo_labels

CLASSES = ("a", "b")


def two_blobs(n: int, rng: np.random.Generator, angle: float = 0.0, shift=(0.0, 0.0), scale: float = 1.0):
    """Two classes at (-2, 0) and (2, 0), unit variance, then rotated by ``angle`` degrees, scaled and shifted."""
    y = rng.integers(0, 2, n)
    X = rng.normal(0.0, 1.0, (n, 2))
    X[:, 0] += np.where(y == 1, 2.0, -2.0)
    theta = np.radians(angle)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return (X @ rotation.T) * scale + np.asarray(shift), y


def fit(name: str, X_source, y_source, X_target, seed: int = 0, **params):
    strategy = create_strategy(name, random_state=seed, **params)
    return strategy.fit(Examples(X_source, y_source, CLASSES), unlabeled=Examples(X_target, None, CLASSES))


def accuracy(strategy, X, y) -> float:
    return float((strategy.predict_proba(X).argmax(axis=1) == y).mean())


# ---------------------------------------------------------------- the feature methods


@pytest.mark.parametrize(("shrinkage", "tolerance"), [(0.0, 1e-9), ("auto", 0.05)])
def test_coral_aligns_the_source_covariance_with_the_targets(shrinkage, tolerance):
    """Exactly without shrinkage; within Ledoit-Wolf's (small at n = 3000, d = 4) shrinkage by default."""
    rng = np.random.default_rng(0)
    X_source = rng.normal(size=(3000, 4)) @ rng.normal(size=(4, 4))
    X_target = rng.normal(size=(3000, 4)) @ rng.normal(size=(4, 4)) + 5.0
    coral = fit("coral", X_source, rng.integers(0, 2, 3000), X_target, shrinkage=shrinkage)
    Z_source, Z_target = coral.transform(X_source, "source"), coral.transform(X_target, "target")
    target_cov = np.cov(X_target.T)
    gap = np.linalg.norm(np.cov(Z_source.T) - target_cov) / np.linalg.norm(target_cov)
    assert gap < tolerance and np.linalg.norm(np.cov(X_source.T) - target_cov) / np.linalg.norm(target_cov) > 0.5
    assert np.abs(Z_source.mean(axis=0)).max() < 1e-9 and np.abs(Z_target.mean(axis=0)).max() < 1e-9


def test_coral_agrees_with_skada_given_a_shrinkage():
    """skada's CORALAdapter is the reference: with a fixed shrinkage both compute the same transform."""
    rng = np.random.default_rng(2)
    X_source, X_target = rng.normal(size=(200, 5)) @ rng.normal(size=(5, 5)), rng.normal(size=(300, 5)) * 2.0 + 1.0
    ours = fit("coral", X_source, rng.integers(0, 2, 200), X_target, shrinkage=0.1)
    sample_domain = np.r_[np.ones(200, dtype=int), -np.ones(300, dtype=int)]
    skada = import_skada().CORALAdapter(reg=0.1).fit(np.vstack([X_source, X_target]), sample_domain=sample_domain)
    reference = skada.transform(X_source, sample_domain=np.ones(200, dtype=int), allow_source=True)
    assert np.allclose(ours.transform(X_source, "source"), reference, atol=1e-9)
    assert np.allclose(ours.transform(X_target, "target"), skada.transform(X_target), atol=1e-9)


@pytest.mark.parametrize("seed", range(4))
def test_an_adaptation_method_beats_source_only_on_a_shifted_task(seed):
    """A target that is the source halved and moved: source-only sends everything to one class."""
    rng = np.random.default_rng(seed)
    X_source, y_source = two_blobs(60, rng)
    X_target, y_target = two_blobs(600, rng, shift=(3.0, -1.0), scale=0.5)
    pool, test = slice(0, 300), slice(300, None)
    source_only = fit("source-only", X_source, y_source, X_target[pool], seed)
    coral = fit("coral", X_source, y_source, X_target[pool], seed)
    assert accuracy(coral, X_target[test], y_target[test]) > accuracy(source_only, X_target[test], y_target[test]) + 0.3


def test_subspace_alignment_on_a_rotated_copy():
    """The top direction of a copy rotated by 50 degrees is recovered up to cos(50 deg); the shift by centring."""
    rng = np.random.default_rng(1)
    X_source, y_source = two_blobs(400, rng)
    theta = np.radians(50)
    rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    X_target = X_source @ rotation.T + np.array([6.0, -6.0])  # the same points, rotated and moved
    sa = fit("subspace-alignment", X_source, y_source, X_target, n_components=1)
    assert abs(abs(float(sa.adapter_.M_[0, 0])) - np.cos(theta)) < 0.02
    Z_source, Z_target = sa.transform(X_source, "source")[:, 0], sa.transform(X_target, "target")[:, 0]
    assert np.allclose(Z_source, np.cos(theta) * Z_target, atol=0.1 * Z_target.std())
    source_only = fit("source-only", X_source, y_source, X_target)
    assert accuracy(sa, X_target, y_source) > 0.95 > 0.6 > accuracy(source_only, X_target, y_source)


def test_subspace_alignment_caps_its_dimension_at_what_the_budget_spans():
    rng = np.random.default_rng(0)
    sa = fit("subspace-alignment", rng.normal(size=(6, 10)), np.array([0, 1] * 3), rng.normal(size=(50, 10)))
    assert sa.n_components_ == 5 and sa.transform(rng.normal(size=(3, 10))).shape == (3, 5)


def test_self_training_improves_on_a_rotated_target():
    """The cluster assumption holds (two blobs), the source boundary cuts the rotated target's clusters."""
    gains = []
    for seed in range(6):
        rng = np.random.default_rng(seed)
        X_source, y_source = two_blobs(40, rng)
        X_target, y_target = two_blobs(600, rng, angle=50)
        pool, test = slice(0, 300), slice(300, None)
        source_only = fit("source-only", X_source, y_source, X_target[pool], seed)
        self_training = fit("self-training", X_source, y_source, X_target[pool], seed)
        assert self_training.n_pseudo_labels_[-1] > 0
        gains.append(
            accuracy(self_training, X_target[test], y_target[test])
            - accuracy(source_only, X_target[test], y_target[test])
        )
    assert np.mean(gains) > 0.03 and min(gains) > -0.01


def test_pseudo_labels_are_confident_and_class_balanced():
    proba = np.array([[0.99, 0.01], [0.95, 0.05], [0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.1, 0.9]])
    index, labels = select_pseudo_labels(proba, threshold=0.85, portion=0.5)
    # class 0 has 4 members: its top 2 (0.99, 0.95); class 1 has 2: its top 1 (0.9); 0.6 is never confident enough
    assert index.tolist() == [0, 1, 5] and labels.tolist() == [0, 0, 1]


def test_importance_weighting_records_its_weights():
    rng = np.random.default_rng(0)
    X_source, y_source = two_blobs(80, rng)
    X_target, _ = two_blobs(200, rng, shift=(1.0, 0.0))
    iw = fit("importance-weighting", X_source, y_source, X_target, max_weight=5.0)
    assert iw.weights_.shape == (80,) and abs(iw.weights_.mean() - 1) < 1e-9 and iw.weights_.max() <= 5.0 + 1e-9
    assert 1.0 <= iw.effective_sample_size_ <= 80.0


def test_adaptation_needs_the_target_pool_and_valid_parameters():
    X, y = np.eye(4), np.array([0, 1, 0, 1])
    with pytest.raises(InputError, match="coral adapts to a target domain and needs its unlabelled inputs"):
        create_strategy("coral").fit(Examples(X, y, CLASSES))
    with pytest.raises(InputError, match=r"same columns; got shapes \(4, 4\) and \(3, 2\)"):
        fit("self-training", X, y, np.ones((3, 2)))
    with pytest.raises(InputError, match="parameter 'shrinkage' must be 'auto'"):
        fit("coral", X, y, X, shrinkage=2.0)
    with pytest.raises(InputError, match="parameter 'threshold' must be a number in"):
        fit("self-training", X, y, X, threshold=0)
    with pytest.raises(InputError, match="parameter 'estimator' must be one of classifier, kmm"):
        fit("importance-weighting", X, y, X, estimator="kde")


# ---------------------------------------------------------------- importance weights


def _gaussian_shift(n_source: int, n_target: int, seed: int):
    """Source N(0, I), target N(mu, I): the log density ratio is mu . x - |mu|^2 / 2."""
    rng = np.random.default_rng(seed)
    mu = np.array([1.0, -0.5, 0.0])
    return rng.normal(size=(n_source, 3)), rng.normal(size=(n_target, 3)) + mu, mu


def test_domain_classifier_weights_follow_the_known_density_ratio():
    X_source, X_target, mu = _gaussian_shift(400, 400, seed=0)
    weights = domain_classifier_weights(X_source, X_target)
    assert np.corrcoef(np.log(weights), X_source @ mu)[0, 1] > 0.95
    assert abs(weights.mean() - 1.0) < 1e-9


def test_kmm_weights_match_the_target_mean():
    """KMM's objective: the weighted source mean lands on the target's (its weights are sparse, not smooth)."""
    X_source, X_target, mu = _gaussian_shift(200, 200, seed=1)
    weights = kmm_weights(X_source, X_target)
    weighted_mean = weights @ X_source / weights.sum()
    gap = np.linalg.norm(weighted_mean - X_target.mean(axis=0)) / np.linalg.norm(
        X_source.mean(axis=0) - X_target.mean(axis=0)
    )
    assert gap < 0.15 and spearmanr(weights, X_source @ mu)[0] > 0.2


def test_skada_discriminator_weights_point_the_wrong_way():
    """Why ``domain_classifier_weights`` is ours: skada 0.6 returns P(s|x)/P(t|x). Revisit if this fails."""
    X_source, X_target, mu = _gaussian_shift(400, 400, seed=0)
    sample_domain = np.r_[np.ones(400, dtype=int), -np.ones(400, dtype=int)]
    adapter = (
        import_skada().DiscriminatorReweightAdapter().fit(np.vstack([X_source, X_target]), sample_domain=sample_domain)
    )
    weights = adapter.compute_weights(np.vstack([X_source, X_target]), sample_domain=sample_domain)[:400]
    assert np.corrcoef(np.log(weights), X_source @ mu)[0, 1] < -0.9


def test_importing_skada_leaves_scikit_learn_routing_alone():
    import_skada()
    assert sklearn.get_config()["enable_metadata_routing"] is False


def test_truncation_and_effective_sample_size():
    weights = np.array([1.0, 1.0, 1.0, 97.0])
    assert effective_sample_size(np.ones(10)) == pytest.approx(10.0)
    assert effective_sample_size(weights) == pytest.approx(100.0**2 / (3 + 97.0**2))
    capped = truncate_weights(weights, max_weight=2.0)  # the 97 is cut to 3: then 3 = 2 x mean(1, 1, 1, 3)
    assert np.allclose(capped, [2 / 3, 2 / 3, 2 / 3, 2.0])
    assert np.array_equal(truncate_weights(np.array([1.0, 2.0, 3.0]), max_weight=5.0), [0.5, 1.0, 1.5])
    rng = np.random.default_rng(0)
    heavy = truncate_weights(rng.lognormal(0.0, 2.0, 500), max_weight=10.0)
    assert heavy.mean() == pytest.approx(1.0) and heavy.max() == pytest.approx(10.0)


# ---------------------------------------------------------------- the validators


def test_entropy_score_on_known_cases():
    assert entropy_score(np.full((5, 4), 0.25)) == pytest.approx(-np.log(4))
    assert entropy_score(np.eye(3)) == pytest.approx(0.0)


def test_snd_matches_skada_and_a_known_value():
    rng = np.random.default_rng(0)
    proba = rng.dirichlet(np.full(4, 0.5), 60)

    class Fixed:  # skada's scorer asks an estimator; this one answers with the probabilities above
        def predict_proba(self, X, **params):
            return proba[X[:, 0].astype(int)]

    with sklearn.config_context(enable_metadata_routing=True):
        scorer = import_skada().metrics.SoftNeighborhoodDensity()
        reference = scorer(Fixed(), np.arange(60.0)[:, None], np.zeros(60), sample_domain=-np.ones(60, dtype=int))
    assert snd_score(proba) == pytest.approx(reference, rel=1e-9)
    # one-hot predictions, 3 classes of 10: each example's neighbours are the 9 others of its class, uniformly
    assert snd_score(np.repeat(np.eye(3), 10, axis=0)) == pytest.approx(np.log(9), abs=1e-6)


def test_importance_weighted_risk_is_the_target_risk():
    """Loss x_1^2: its mean is 1 under the source N(0, 1) and 2 under the target N(1, 1)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=40_000)
    losses, weights = x**2, np.exp(x - 0.5)  # the true density ratio
    assert -source_risk_score(losses) == pytest.approx(1.0, abs=0.03)
    assert -importance_weighted_score(losses, weights) == pytest.approx(2.0, abs=0.1)
    assert -dev_score(losses, weights) == pytest.approx(2.0, abs=0.1)


def test_dev_control_variate_lowers_the_variance():
    """Over 300 draws of 200 examples, DEV varies less than the plain weighted mean, around the same truth."""
    rng = np.random.default_rng(1)
    plain, dev = [], []
    for _ in range(300):
        x = rng.normal(size=200)
        losses, weights = 1.0 + 0.5 * x, np.exp(x - 0.5)  # target risk 1.5
        plain.append(np.mean(weights * losses))
        dev.append(-dev_score(losses, weights))
    assert np.var(dev) < 0.5 * np.var(plain)
    assert abs(np.mean(dev) - 1.5) < 0.05 and abs(np.mean(plain) - 1.5) < 0.05
    assert dev_score(np.array([1.0, 3.0]), np.ones(2)) == pytest.approx(-2.0)  # constant weights: no correction
    # weights rescaled to mean 1 leave the control variate nothing to correct: DEV is the weighted mean
    x = rng.normal(size=200)
    losses, weights = 1.0 + 0.5 * x, np.exp(x - 0.5)
    assert -dev_score(losses, weights / weights.mean()) == pytest.approx(np.mean(weights / weights.mean() * losses))


def test_validator_scores_of_a_fitted_method():
    rng = np.random.default_rng(0)
    X_source, y_source = two_blobs(120, rng)
    X_target, _ = two_blobs(200, rng, shift=(3.0, -1.0), scale=0.5)
    coral = fit("coral", X_source[:80], y_source[:80], X_target)
    source_val, target = Examples(X_source[80:], y_source[80:], CLASSES), Examples(X_target, None, CLASSES)
    scores = validator_scores(coral, source_val, target, weights=np.ones(40))
    assert set(scores) == {"source-risk", "iwv", "dev", "snd", "entropy"} and all(np.isfinite(list(scores.values())))
    # source validation examples are mapped as source ones (CORAL re-colours them), not as target ones
    expected = -cross_entropy(coral.predict_proba_source(X_source[80:]), y_source[80:]).mean()
    assert scores["source-risk"] == pytest.approx(expected)
    assert scores["iwv"] == pytest.approx(expected)  # equal weights
    estimated = validator_scores(coral, source_val, target)  # weights estimated from the features
    assert estimated["source-risk"] == scores["source-risk"] and estimated["dev"] != estimated["iwv"]


def test_validator_picks_and_what_they_cost():
    scores = {
        "source-only": {"iwv": -0.5, "snd": 1.0},
        "coral": {"iwv": -0.3, "snd": 1.0},
    }
    picks = validator_picks(scores)
    assert picks == {"iwv": "coral", "snd": "source-only"}  # a tie goes to the first listed
    regret = pick_regret(picks, {"source-only": 0.70, "coral": 0.82})
    assert regret["iwv"]["is_best"] and regret["snd"]["accuracy_lost"] == pytest.approx(0.12)
