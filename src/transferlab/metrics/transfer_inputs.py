"""Input checks shared by every transferability score.

All transferability scores take ``(X, labels)`` where ``X`` is either a feature matrix
``(n_samples, n_features)`` or a source classifier's probabilities ``(n_samples, n_source_classes)``.
:func:`check_transfer_inputs` is the one place their messages are written; each message says what
was expected, what was found and the fix, on one line.
"""

from __future__ import annotations

import numpy as np

from transferlab.errors import InputError

# Rows of a softmax are allowed this much slack in their sum (float32 softmax drifts ~1e-6).
_PROBA_SUM_TOL = 1e-4


def check_transfer_inputs(
    metric: str,
    X: object,
    labels: object,
    *,
    proba: bool = False,
    regression: bool = False,
    min_per_class: int = 2,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Validate and normalise the inputs of a transferability score.

    Parameters
    ----------
    metric : str
        Name of the calling metric, used as the message prefix.
    X : array-like of shape (n_samples, n_columns)
        Features, or source-classifier probabilities when ``proba`` is true.
    labels : array-like of shape (n_samples,)
        Class labels (any hashable values), or float targets of shape (n_samples,) or
        (n_samples, n_targets) when ``regression`` is true.
    proba : bool
        Also check that the rows of ``X`` are probability vectors.
    regression : bool
        Labels are continuous targets: no class checks are made.
    min_per_class : int
        Smallest number of examples each class must have.

    Returns
    -------
    X : ndarray of shape (n_samples, n_columns), float64
    y : ndarray
        Class codes ``0..n_classes-1`` (in sorted order of the original labels), or the float
        targets as ``(n_samples, n_targets)`` in regression mode.
    n_classes : int
        Number of classes (number of target columns in regression mode).
    """
    X = _as_matrix(metric, X, "probabilities" if proba else "features")
    y = np.asarray(labels)
    if y.ndim == 0 or y.shape[0] != X.shape[0]:
        found = "a scalar" if y.ndim == 0 else f"{y.shape[0]} labels"
        raise InputError(
            f"{metric}: expected one label per example, found {X.shape[0]} rows and {found}; "
            "fix: pass features and labels of the same examples in the same order"
        )
    if proba:
        _check_proba(metric, X)
    if regression:
        return X, _as_targets(metric, y), (1 if y.ndim == 1 else y.shape[1])
    codes, n_classes = _as_classes(metric, y, min_per_class)
    return X, codes, n_classes


def _as_matrix(metric: str, X: object, what: str) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim != 2:
        raise InputError(
            f"{metric}: expected {what} as a 2-D array (n_samples, n_columns), found shape {X.shape}; "
            "fix: reshape with X.reshape(-1, 1) for a single column or X.reshape(len(X), -1)"
        )
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise InputError(f"{metric}: expected non-empty {what}, found shape {X.shape}; fix: pass data")
    if not np.issubdtype(X.dtype, np.number) or np.issubdtype(X.dtype, np.complexfloating):
        raise InputError(
            f"{metric}: expected real numeric {what}, found dtype {X.dtype}; fix: convert with X.astype(float)"
        )
    X = X.astype(np.float64, copy=False)
    bad = ~np.isfinite(X)
    if bad.any():
        raise InputError(
            f"{metric}: expected finite {what}, found {int(bad.sum())} NaN/inf values in "
            f"{int(bad.any(axis=1).sum())} rows; fix: drop or impute those rows before scoring"
        )
    return X


def _check_proba(metric: str, P: np.ndarray) -> None:
    sums = P.sum(axis=1)
    if (P < 0).any() or np.abs(sums - 1.0).max() > _PROBA_SUM_TOL:
        raise InputError(
            f"{metric}: expected source probabilities (non-negative rows summing to 1), found row sums in "
            f"[{sums.min():.4g}, {sums.max():.4g}] and min value {P.min():.4g}; "
            "fix: apply a softmax to the source classifier's logits"
        )


def _as_targets(metric: str, y: np.ndarray) -> np.ndarray:
    if y.ndim > 2 or not np.issubdtype(y.dtype, np.number):
        raise InputError(
            f"{metric}: expected numeric regression targets of shape (n,) or (n, k), found shape "
            f"{y.shape} and dtype {y.dtype}; fix: pass float targets or use regression=False for classes"
        )
    y = y.astype(np.float64).reshape(y.shape[0], -1)
    if not np.isfinite(y).all():
        raise InputError(f"{metric}: expected finite regression targets, found NaN/inf; fix: drop those examples")
    return y


def _as_classes(metric: str, y: np.ndarray, min_per_class: int) -> tuple[np.ndarray, int]:
    if y.ndim != 1:
        raise InputError(
            f"{metric}: expected labels as a 1-D array (n_samples,), found shape {y.shape}; "
            "fix: pass class ids, e.g. one_hot.argmax(axis=1)"
        )
    if np.issubdtype(y.dtype, np.floating) and not (np.isfinite(y).all() and (y == np.round(y)).all()):
        raise InputError(
            f"{metric}: expected integer class labels, found non-integer floats; "
            "fix: cast class ids with labels.astype(int) (LogME: use regression=True for continuous targets)"
        )
    classes, codes, counts = np.unique(y, return_inverse=True, return_counts=True)
    if classes.size < 2:
        raise InputError(
            f"{metric}: expected at least 2 classes, found only class {classes[0].item()!r}; "
            "fix: score a task whose labels contain two or more classes"
        )
    if counts.min() < min_per_class:
        rare = classes[counts < min_per_class]
        raise InputError(
            f"{metric}: expected at least {min_per_class} examples per class, found "
            f"{int(counts.min())} for class {rare[0].item()!r} ({rare.size} classes too small); "
            "fix: drop the rare classes or gather more examples"
        )
    return codes.astype(np.intp).reshape(-1), int(classes.size)


def canonical_order(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Indices sorting examples lexicographically by (features, label).

    Scores that involve a seeded random step over examples (k-means initialisation, shuffled
    folds) would otherwise depend on the order the examples arrive in; fitting on this order makes
    them exactly invariant to permutations of the examples.
    """
    order = np.argsort(X[:, 0], kind="stable")
    first = X[order, 0]
    tied = first[1:] == first[:-1]
    if not tied.any():  # usual for real features: column 0 alone decides
        return order
    # A bootstrap resample ties column 0 only between copies of one example. Copies keep their
    # original order under a stable lexicographic sort too, so the full sort (one pass per
    # column: most of linear-cv's time on a resample) is needed only when unequal rows tie.
    a, b = order[:-1][tied], order[1:][tied]
    if np.all(X[a] == X[b]) and np.all(y[a] == y[b]):
        return order
    return np.lexsort((y, *X.T[::-1]))  # last key is the primary one


def first_appearance_codes(y: np.ndarray) -> np.ndarray:
    """Relabel class codes ``0..C-1`` in order of first appearance (invariant to renaming classes)."""
    _, first = np.unique(y, return_index=True)
    rank = np.empty(first.size, dtype=np.intp)
    rank[np.argsort(first)] = np.arange(first.size)
    return np.asarray(rank[y])


def one_hot(y: np.ndarray, n_classes: int) -> np.ndarray:
    """One-hot float matrix ``(n_samples, n_classes)`` of class codes ``y``."""
    Y = np.zeros((y.shape[0], n_classes))
    Y[np.arange(y.shape[0]), y] = 1.0
    return Y
