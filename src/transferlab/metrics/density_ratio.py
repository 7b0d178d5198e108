"""Importance weights ``w(x) = p_target(x) / p_source(x)`` of source examples, without target labels.

Two estimators, both returning weights normalised to mean 1 over the source examples (the
domain classifier's can also be had as estimated, for DEV):

* :func:`domain_classifier_weights` (the default everywhere): a probabilistic classifier of the
  domain (source 0, target 1) turned into a density ratio by Bayes' rule,
  ``w(x) = P(t | x) / P(s | x) * n_s / n_t`` (Bickel, Brueckner & Scheffer 2007; the estimator
  DEV uses, You et al. 2019). Written here rather than taken from skada, for two reasons.
  skada 0.6's ``DiscriminatorReweightAdapter`` returns ``P(s | x) / P(t | x)``, the inverse
  ratio: it down-weights the source examples that look most like the target
  (``tests/test_adapt.py`` pins the direction of ours). And it weights the very points its
  classifier was fitted on, which in 384 dimensions over-fits to extreme ratios. Here each
  probability is out-of-fold (cross-fitted) and the regularisation is chosen by cross-validated
  log-loss: a ratio needs calibrated probabilities, not only a good ranking.
* :func:`kmm_weights`: kernel mean matching (Huang et al. 2007), which matches the weighted
  source mean to the target mean in an RBF feature space by a quadratic programme. skada's
  ``KMMReweightAdapter`` solves it well (checked against the known ratio of two Gaussians), so
  it is used as is, with the kernel width set by the median heuristic.

Extreme weights make a weighted estimate rest on a handful of examples. Report
:func:`effective_sample_size` with any weighted result and truncate with :func:`truncate_weights`
(Cortes, Mansour & Mohri 2010 bound the cost of truncation).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import InputError

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)
MAX_TARGET = 2000  # target examples the estimators see at most (a seeded uniform subsample)


def _check_domains(X_source: np.ndarray, X_target: np.ndarray, need: int) -> tuple[np.ndarray, np.ndarray]:
    X_source, X_target = np.asarray(X_source, dtype=np.float64), np.asarray(X_target, dtype=np.float64)
    if X_source.ndim != 2 or X_target.ndim != 2 or X_source.shape[1] != X_target.shape[1]:
        raise InputError(
            "importance weights need source and target features as 2-D arrays with the same number of"
            f" columns; got shapes {X_source.shape} and {X_target.shape}. Embed both with the same source."
        )
    if min(len(X_source), len(X_target)) < need:
        raise InputError(
            f"importance weights need at least {need} source and {need} target examples;"
            f" got {len(X_source)} and {len(X_target)}. Give a larger budget or target pool."
        )
    return X_source, X_target


def _subsample(X: np.ndarray, limit: int, random_state: int | None) -> np.ndarray:
    if len(X) <= limit:
        return X
    keep = np.sort(np.random.default_rng(random_state).choice(len(X), limit, replace=False))
    return X[keep]


def domain_classifier_weights(
    X_source: np.ndarray,
    X_target: np.ndarray,
    n_folds: int = 5,
    random_state: int | None = 0,
    normalise: bool = True,
) -> np.ndarray:
    """Density ratios of the source examples from a cross-fitted logistic domain classifier.

    Parameters
    ----------
    X_source : (n_s, d) source features (the examples to weight).
    X_target : (n_t, d) unlabelled target features (at most ``MAX_TARGET`` are used).
    n_folds : folds of the cross-fitting; each source example's ``P(t | x)`` comes from a
        classifier that did not see it.
    normalise : rescale to mean 1 (for training). ``False`` keeps the estimated ratios, whose
        expectation under the source is 1 only in theory: DEV's control variate needs them so.

    Returns
    -------
    (n_s,) weights ``P(t|x) / P(s|x) * n_s / n_t`` (rescaled to mean 1 when ``normalise``).

    References
    ----------
    Bickel, Brueckner & Scheffer (2007), "Discriminative learning for differing training and test
    distributions", ICML.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    X_source, X_target = _check_domains(X_source, X_target, need=2)
    X_target = _subsample(X_target, MAX_TARGET, random_state)
    X = np.vstack([X_source, X_target])  # (n_s + n_t, d)
    domain = np.r_[np.zeros(len(X_source), dtype=int), np.ones(len(X_target), dtype=int)]
    folds = StratifiedKFold(min(n_folds, len(X_source), len(X_target)), shuffle=True, random_state=random_state)
    C = _domain_regularisation(X, domain, folds)
    model = _domain_model(LogisticRegression(C=C, max_iter=500))
    p_target = cross_val_predict(model, X, domain, cv=folds, method="predict_proba")[: len(X_source), 1]
    p_target = np.clip(p_target, 1e-6, 1 - 1e-6)
    weights = p_target / (1 - p_target) * len(X_source) / len(X_target)
    return np.asarray(weights / weights.mean() if normalise else weights)


def _domain_model(classifier: Any) -> Any:
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), classifier)


def _domain_regularisation(X: np.ndarray, domain: np.ndarray, folds: object) -> float:
    """The inverse regularisation of the domain classifier, by cross-validated log-loss."""
    import warnings

    from sklearn.linear_model import LogisticRegressionCV

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn 1.8 attribute-change notices
        search = LogisticRegressionCV(Cs=list(C_GRID), cv=folds, scoring="neg_log_loss", max_iter=500)
        return float(np.ravel(_domain_model(search).fit(X, domain)[-1].C_)[0])


def median_heuristic_gamma(X: np.ndarray) -> float:
    """RBF ``gamma = 1 / median squared distance`` between rows (Gretton et al. 2012's heuristic)."""
    X = _subsample(np.asarray(X, dtype=np.float64), 1000, 0)
    squared = (X * X).sum(axis=1)
    distances = squared[:, None] + squared[None, :] - 2.0 * X @ X.T  # (n, n)
    off_diagonal = distances[np.triu_indices(len(X), k=1)]
    return 1.0 / max(float(np.median(off_diagonal)), 1e-12)


def kmm_weights(
    X_source: np.ndarray, X_target: np.ndarray, B: float = 1000.0, gamma: float | None = None, random_state: int = 0
) -> np.ndarray:
    """Kernel mean matching weights of the source examples (skada's solver), mean 1.

    Huang, Gretton, Borgwardt, Schoelkopf & Smola (2007), "Correcting sample selection bias by
    unlabeled data", NeurIPS. ``B`` bounds each weight; ``gamma`` defaults to the median heuristic.
    """
    from transferlab.skada_compat import import_skada

    X_source, X_target = _check_domains(X_source, X_target, need=2)
    X_target = _subsample(X_target, MAX_TARGET, random_state)
    X = np.vstack([X_source, X_target])  # (n_s + n_t, d)
    gamma = median_heuristic_gamma(X) if gamma is None else gamma
    sample_domain = np.r_[np.ones(len(X_source), dtype=int), -np.ones(len(X_target), dtype=int)]  # skada: >0 source
    adapter = import_skada().KMMReweightAdapter(gamma=gamma, B=B).fit(X, sample_domain=sample_domain)
    weights = np.clip(adapter.compute_weights(X, sample_domain=sample_domain)[: len(X_source)], 0.0, None)
    return np.asarray(weights / max(weights.mean(), 1e-12))


def truncate_weights(weights: np.ndarray, max_weight: float) -> np.ndarray:
    """Weights with mean 1 and none above ``max_weight`` (>= 1): the largest are cut to one common level.

    Capping and then renormalising would lift the capped weights above the cap again, so the
    level ``tau`` is solved for: with the ``k`` largest set to ``tau`` and the rest kept,
    ``tau = max_weight * mean`` gives ``tau = max_weight * S / (n - max_weight * k)``, ``S`` the
    sum of the rest; the right ``k`` is the one whose ``tau`` falls between the ``k``-th and
    ``(k+1)``-th largest weight.
    """
    weights = np.asarray(weights, dtype=np.float64)
    descending = np.sort(weights)[::-1]
    n, kept = len(weights), np.cumsum(descending[::-1])[::-1]  # kept[k]: sum of all but the k largest
    for k in range(n):
        if max_weight * k >= n:
            break
        tau = max_weight * kept[k] / (n - max_weight * k)
        if descending[k] <= tau:
            cut = np.minimum(weights, tau)
            return np.asarray(cut / cut.mean())
    return np.ones(n)


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``: n for equal weights, 1 when one dominates."""
    weights = np.asarray(weights, dtype=np.float64)
    return float(weights.sum() ** 2 / max((weights**2).sum(), 1e-300))
