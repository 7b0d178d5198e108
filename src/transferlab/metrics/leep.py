"""Scores built on a source labelling of the target examples: LEEP, NCE and N-LEEP.

LEEP and NCE read the source classifier's own predictions (``source_proba``); N-LEEP replaces the
classifier with a Gaussian mixture fitted on the features, so it needs features only.
"""

from __future__ import annotations

import numpy as np

from transferlab.errors import bad_parameter
from transferlab.metrics.base import register_metric
from transferlab.metrics.pca import components_for_variance
from transferlab.metrics.transfer_inputs import canonical_order, check_transfer_inputs, one_hot

# N-LEEP keeps the principal components that explain this much of the variance (Li et al. 2021).
_NLEEP_VARIANCE = 0.8
_NLEEP_COMPONENTS_PER_CLASS = 5


@register_metric("leep", higher_is_better=True, needs=("source_proba", "labels"), kind="transferability")
def leep(source_proba: np.ndarray, labels: np.ndarray) -> float:
    """LEEP: log expected empirical prediction of the source classifier re-mapped to the target.

    Nguyen, Hassner, Seeger, Archambeau. "LEEP: A New Measure to Evaluate Transferability of
    Learned Representations", ICML 2020.

    Parameters
    ----------
    source_proba : ndarray of shape (n_samples, n_source_classes)
        The source classifier's softmax over its own classes for each target example.
    labels : ndarray of shape (n_samples,)
        Target class labels.

    Returns
    -------
    float
        ``mean_i log sum_z P(y_i | z) theta_z(x_i)``, at most 0; higher is better.
    """
    P, y, n_classes = check_transfer_inputs("leep", source_proba, labels, proba=True)
    return _leep(P, y, n_classes)


def _leep(P: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    n = P.shape[0]
    joint = one_hot(y, n_classes).T @ P / n  # (C, Z) empirical P(y, z)
    p_z = joint.sum(axis=0)  # (Z,)
    # a source class no example puts mass on has P(y | z) undefined; its theta_z is 0 everywhere
    cond = np.divide(joint, p_z, out=np.zeros_like(joint), where=p_z > 0)  # (C, Z) P(y | z)
    eep = np.einsum("iz,iz->i", P, cond[y])  # (n,) sum_z theta_z(x_i) P(y_i | z)
    return float(np.mean(np.log(np.minimum(eep, 1.0))))  # eep <= 1; round-off must not make LEEP > 0


@register_metric("nce", higher_is_better=True, needs=("source_proba", "labels"), kind="transferability")
def nce(source_proba: np.ndarray, labels: np.ndarray) -> float:
    """NCE: negative conditional entropy of target labels given the source's argmax labels.

    Tran, Nguyen, Hassner. "Transferability and Hardness of Supervised Classification Tasks",
    ICCV 2019.

    Parameters
    ----------
    source_proba : ndarray of shape (n_samples, n_source_classes)
        The source classifier's probabilities; its argmax is the source labelling.
    labels : ndarray of shape (n_samples,)
        Target class labels.

    Returns
    -------
    float
        ``-H(Y | Z)`` in nats, at most 0; higher is better.
    """
    P, y, n_classes = check_transfer_inputs("nce", source_proba, labels, proba=True)
    z = P.argmax(axis=1)  # (n,) source labelling
    counts = np.zeros((n_classes, P.shape[1]))
    np.add.at(counts, (y, z), 1.0)
    joint = counts / P.shape[0]  # (C, Z)
    p_z = joint.sum(axis=0, keepdims=True)  # (1, Z)
    nz = joint > 0
    return float(np.sum(joint[nz] * np.log((joint / np.where(p_z > 0, p_z, 1.0))[nz])))


@register_metric("nleep", higher_is_better=True, needs=("features", "labels"), kind="transferability")
def nleep(features: np.ndarray, labels: np.ndarray, n_components: int | None = None, random_state: int = 0) -> float:
    """N-LEEP: LEEP with a Gaussian mixture on PCA-reduced features as the source labelling.

    Li, Jia, Zhong, Sun, Wang, Tan. "Ranking Neural Checkpoints", CVPR 2021. Diagonal
    covariances keep the mixture fit cheap; the examples are put in a canonical order before the
    (seeded) fit so the score does not depend on the order they arrive in.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    n_components : int, optional
        Mixture components; default ``5 * n_classes``, capped by ``n_samples``.
    random_state : int
        Seed of the mixture initialisation.

    Returns
    -------
    float
        LEEP of the mixture posteriors, at most 0; higher is better.
    """
    from sklearn.mixture import GaussianMixture

    X, y, n_classes = check_transfer_inputs("nleep", features, labels)
    n = X.shape[0]
    k = min(_NLEEP_COMPONENTS_PER_CLASS * n_classes, n) if n_components is None else n_components
    if not 1 <= k <= n:
        raise bad_parameter("nleep", "n_components", n_components, f"an int in [1, n_samples={n}]")
    order = canonical_order(X, y)
    X, y = X[order], y[order]
    reduced = components_for_variance(X, _NLEEP_VARIANCE)  # (n, d')
    mixture = GaussianMixture(k, covariance_type="diag", random_state=random_state).fit(reduced)
    return _leep(mixture.predict_proba(reduced), y, n_classes)
