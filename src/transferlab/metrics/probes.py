"""Cheap proxy learners on frozen features: leave-one-out kNN and cross-validated logistic regression."""

from __future__ import annotations

import numpy as np

from transferlab.errors import bad_parameter
from transferlab.metrics.base import register_metric
from transferlab.metrics.transfer_inputs import canonical_order, check_transfer_inputs, first_appearance_codes

# Rows of the (n, n) similarity matrix computed at once: bounds memory at _BLOCK * n floats.
_BLOCK = 1024


@register_metric("knn-loo", higher_is_better=True, needs=("features", "labels"), kind="transferability")
def knn_loo(features: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Leave-one-out accuracy of a k-nearest-neighbour vote under cosine similarity.

    A standard non-parametric probe of feature quality (e.g. Wu et al., "Unsupervised Feature
    Learning via Non-Parametric Instance Discrimination", CVPR 2018). Each example is classified
    by the majority label of its ``k`` most similar other examples; a tie between classes goes to
    the class with the nearer neighbour, so the result does not depend on how classes are named.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    k : int
        Neighbours per vote, capped at ``n_samples - 1``.

    Returns
    -------
    float
        Accuracy in [0, 1]; higher is better.
    """
    X, y, n_classes = check_transfer_inputs("knn-loo", features, labels)
    if not (isinstance(k, int | np.integer) and k >= 1):
        raise bad_parameter("knn-loo", "k", k, "a positive int")
    n = X.shape[0]
    k = min(int(k), n - 1)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X = X / np.where(norms > 0, norms, 1.0)  # a zero vector is equally (dis)similar to all
    correct = 0
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, n))
        sim = X[rows] @ X.T  # (B, n)
        sim[np.arange(rows.size), rows] = -np.inf  # leave the example itself out
        nearest = np.argpartition(-sim, k - 1, axis=1)[:, :k]  # (B, k) unordered
        by_sim = np.argsort(-np.take_along_axis(sim, nearest, axis=1), axis=1, kind="stable")
        nearest = np.take_along_axis(nearest, by_sim, axis=1)  # (B, k) most similar first
        correct += int(np.sum(_vote(y[nearest], n_classes) == y[rows]))
    return float(correct / n)


def _vote(neighbour_labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Majority class per row of (B, k) labels ordered by similarity; ties to the nearer class."""
    B, k = neighbour_labels.shape
    row = np.repeat(np.arange(B), k)
    counts = np.zeros((B, n_classes), dtype=np.int64)
    np.add.at(counts, (row, neighbour_labels.ravel()), 1)
    first_rank = np.full((B, n_classes), k, dtype=np.int64)
    np.minimum.at(first_rank, (row, neighbour_labels.ravel()), np.tile(np.arange(k), B))
    # count dominates; among equal counts the smaller first rank wins; both are < k + 1
    return np.asarray(np.argmax(counts * (k + 1) + (k - first_rank), axis=1))


@register_metric("linear-cv", higher_is_better=True, needs=("features", "labels"), kind="transferability")
def linear_cv(features: np.ndarray, labels: np.ndarray, folds: int = 5, random_state: int = 0) -> float:
    """Stratified cross-validated accuracy of a logistic-regression probe on standardised features.

    The linear-probe protocol (e.g. Kornblith, Shlens, Le. "Do Better ImageNet Models Transfer
    Better?", CVPR 2019), shortened to K folds. ``folds`` is capped by the smallest class count.
    Examples are put in a canonical order and classes renamed by first appearance before the
    seeded fold split, so the score is invariant to both example order and class names.

    Parameters
    ----------
    features : ndarray of shape (n_samples, n_features)
    labels : ndarray of shape (n_samples,)
    folds : int
        Number of folds (at least 2).
    random_state : int
        Seed of the fold shuffle.

    Returns
    -------
    float
        Mean held-out accuracy over folds, in [0, 1]; higher is better.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y, _ = check_transfer_inputs("linear-cv", features, labels)
    if not (isinstance(folds, int | np.integer) and folds >= 2):
        raise bad_parameter("linear-cv", "folds", folds, "an int >= 2")
    order = canonical_order(X, y)
    X, y = X[order], first_appearance_codes(y[order])
    n_splits = min(int(folds), int(np.bincount(y).min()))
    split = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    # A plain loop over the folds, not cross_val_score: the same fits and the same accuracies,
    # without the per-fold cloning, scorer and joblib dispatch that cost a fifth of the time here.
    accuracies = []
    for train, test in split.split(X, y):
        probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X[train], y[train])
        accuracies.append(np.mean(probe.predict(X[test]) == y[test]))
    return float(np.mean(accuracies))
