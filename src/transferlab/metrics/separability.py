"""Class-separability scores computed in closed form on the features: H-score, GBC, TransRate."""

from __future__ import annotations

import numpy as np

from transferlab.errors import bad_parameter
from transferlab.metrics.base import register_metric
from transferlab.metrics.pca import principal_components
from transferlab.metrics.transfer_inputs import check_transfer_inputs, one_hot

# GBC reduces features to this many principal components first (Pandy et al. 2022).
_GBC_DIM = 64
# Per-class variances are floored at this fraction of the mean feature variance so that a
# feature constant within one class does not give log(0).
_GBC_VAR_FLOOR = 1e-6


def _class_means(X: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class means (C, d) and class frequencies (C,)."""
    Y = one_hot(y, n_classes)  # (n, C)
    counts = Y.sum(axis=0)
    return (Y.T @ X) / counts[:, None], counts / X.shape[0]


@register_metric("hscore", higher_is_better=True, needs=("features", "labels"), kind="transferability")
def hscore(features: np.ndarray, labels: np.ndarray) -> float:
    """H-score with a Ledoit-Wolf shrinkage estimate of the feature covariance.

    Bao, Li, Huang, Zheng, Zhang, Sun, Tong. "An Information-Theoretic Approach to
    Transferability in Task Transfer Learning", ICIP 2019; regularised as in Ibrahim, Ponomareva,
    Mazumder. "Newer is not always better: Rethinking transferability metrics, their peculiarities,
    stability and performance", ECML-PKDD 2022: ``tr(S^-1 (1 - a) Cov(E[f | y]))`` with
    ``S = (1 - a) Cov(f) + a mu I`` the Ledoit-Wolf estimate. Shrinkage keeps the score stable when
    ``n_samples`` is not much larger than ``n_features``, where the plain H-score explodes.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)

    Returns
    -------
    float
        Non-negative; higher is better.
    """
    X, y, n_classes = check_transfer_inputs("hscore", features, labels)
    X = X - X.mean(axis=0)
    covariance, shrinkage = ledoit_wolf(X)
    means, freq = _class_means(X, y, n_classes)  # (C, d), (C,)
    solved = np.linalg.solve(covariance, means.T)  # (d, C) S^-1 mu_c
    return float((1.0 - shrinkage) * np.sum(freq * np.einsum("cd,dc->c", means, solved)))


def ledoit_wolf(X: np.ndarray) -> tuple[np.ndarray, float]:
    """Ledoit-Wolf shrunk covariance of centred rows ``X`` (n, d), and its shrinkage in [0, 1].

    Ledoit, Wolf. "A well-conditioned estimator for large-dimensional covariance matrices",
    J. Multivariate Analysis 2004: ``(1 - a) S + a m I`` with ``S = X^T X / n``, ``m = tr(S) / d``,
    ``a = min(b2, d2) / d2``, ``d2 = |S - m I|^2 / d`` and ``b2 = sum_k |x_k x_k^T - S|^2 / (n^2 d)``.
    The last sum is ``sum_k |x_k|^4 - n |S|^2`` (the cross terms sum to ``n |S|^2``), so one Gram
    matrix is formed where scikit-learn's ``LedoitWolf`` forms three; it agrees with it to 1e-12.
    """
    n, d = X.shape
    S = X.T @ X / n  # (d, d)
    m = np.trace(S) / d
    S_sq = float(np.sum(S * S))  # |S|_F^2
    d2 = (S_sq - 2.0 * m * np.trace(S) + d * m * m) / d
    b2 = (float(np.sum(np.sum(X * X, axis=1) ** 2)) / n - S_sq) / (n * d)
    shrinkage = 0.0 if d2 <= 0 else min(b2, d2) / d2
    covariance = (1.0 - shrinkage) * S
    covariance.flat[:: d + 1] += shrinkage * m
    return covariance, float(shrinkage)


@register_metric("hscore-raw", higher_is_better=True, needs=("features", "labels"), kind="transferability")
def hscore_raw(features: np.ndarray, labels: np.ndarray) -> float:
    """H-score ``tr(Cov(f)^+ Cov(E[f | y]))`` with the plain covariance (unstable for small n).

    Bao et al., "An Information-Theoretic Approach to Transferability in Task Transfer Learning",
    ICIP 2019. Kept for comparison with the published numbers; prefer ``hscore``. When the
    features span fewer dimensions than they have (``n_samples <= n_features``) the
    pseudo-inverse whitens them exactly and the score is ``n_classes - 1`` for any labelling.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)

    Returns
    -------
    float
        Non-negative; higher is better.
    """
    X, y, n_classes = check_transfer_inputs("hscore-raw", features, labels)
    X = X - X.mean(axis=0)
    cov = X.T @ X / X.shape[0]  # (d, d)
    means, freq = _class_means(X, y, n_classes)
    solved = np.linalg.pinv(cov, rcond=1e-15, hermitian=True) @ means.T  # (d, C)
    return float(np.sum(freq * np.einsum("cd,dc->c", means, solved)))


@register_metric("gbc", higher_is_better=True, needs=("features", "labels"), kind="transferability")
def gbc(features: np.ndarray, labels: np.ndarray) -> float:
    """GBC: minus the summed Bhattacharyya coefficients between per-class diagonal Gaussians.

    Pandy, Agostinelli, Uijlings, Ferrari, Mensink. "Transferability Estimation using
    Bhattacharyya Class Separability", CVPR 2022. Features with more than 64 dimensions are first
    reduced to 64 principal components, as in the paper.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)

    Returns
    -------
    float
        ``-sum_{i != j} BC(c_i, c_j)`` over ordered class pairs, in ``[-C(C-1), 0]``; higher is
        better.
    """
    X, y, n_classes = check_transfer_inputs("gbc", features, labels)
    if X.shape[1] > _GBC_DIM:
        X = principal_components(X, min(_GBC_DIM, X.shape[0]))
    X = X - X.mean(axis=0)  # centred so the variances below do not cancel catastrophically
    means, _ = _class_means(X, y, n_classes)  # (C, d)
    Y = one_hot(y, n_classes)
    var = (Y.T @ X**2) / Y.sum(axis=0)[:, None] - means**2  # (C, d) per-class diagonal variance
    var = np.maximum(var, _GBC_VAR_FLOOR * max(float(X.var(axis=0).mean()), np.finfo(float).tiny))
    log_var = np.log(var)
    total = 0.0
    for c in range(n_classes):  # one row of the (C, C) matrix at a time keeps memory at O(C d)
        pooled = (var[c] + var) / 2  # (C, d)
        mahalanobis = np.sum((means[c] - means) ** 2 / pooled, axis=1) / 8
        log_dets = np.sum(np.log(pooled) - (log_var[c] + log_var) / 2, axis=1) / 2
        bc = np.exp(-(mahalanobis + log_dets))  # (C,)
        total += bc.sum() - bc[c]
    return 0.0 - float(total)  # not -total: no -0.0 when classes do not overlap at all


def _coding_rate(Z: np.ndarray, eps: float) -> float:
    """``1/2 log det(I + Z^T Z / (n eps))``, via the smaller Gram matrix."""
    n, d = Z.shape
    gram = Z.T @ Z if d <= n else Z @ Z.T
    _, logdet = np.linalg.slogdet(np.eye(gram.shape[0]) + gram / (n * eps))
    return 0.5 * float(logdet)


@register_metric("transrate", higher_is_better=True, needs=("features", "labels"), kind="transferability")
def transrate(features: np.ndarray, labels: np.ndarray, eps: float = 1e-4) -> float:
    """TransRate: coding rate of the features minus the mean coding rate within each class.

    Huang, Huang, Rong, Yang, Wei. "Frustratingly Easy Transferability Estimation", ICML 2022.
    The rate uses the ``1 / (n eps)`` scaling of the authors' implementation; features are
    centred once, globally, so the class rates measure spread around the global mean.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    eps : float
        Distortion of the coding rate.

    Returns
    -------
    float
        ``R(Z, eps) - mean_c R(Z_c, eps)``; higher is better.
    """
    X, y, n_classes = check_transfer_inputs("transrate", features, labels)
    if not eps > 0:
        raise bad_parameter("transrate", "eps", eps, "a positive float")
    Z = X - X.mean(axis=0)
    class_rates = [_coding_rate(Z[y == c], eps) for c in range(n_classes)]
    return _coding_rate(Z, eps) - float(np.mean(class_rates))
