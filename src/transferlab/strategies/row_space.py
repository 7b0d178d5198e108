"""L2-regularised logistic regression on wide sparse features, solved in the row space of the data.

TF-IDF of a few hundred texts has 10^4-10^5 columns; L-BFGS on that many weights spends most of
its time in its own bookkeeping (seen here: 4 s per fit at 640 BBC articles, 150k columns,
against 0.05 s below). But with an L2 penalty the optimal weights lie in the span of the
training rows (the representer theorem: every gradient of the loss is ``X.T @ residual``). With
``G = X X^T = U diag(lam) U^T`` and ``V = X^T U diag(lam)^-1/2`` (orthonormal columns), writing
``w = V beta`` gives ``X w = Z beta`` with ``Z = U diag(lam)^1/2`` and ``||w|| = ||beta||``: the
same problem, exactly, in ``n`` dimensions instead of ``d``. The intercept is unpenalised in
both. Directions with a zero eigenvalue carry no data and are dropped.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import sparse
from sklearn.linear_model import LogisticRegression

EIGEN_FLOOR = 1e-10  # relative: eigenvalues below it are numerically zero


def row_space(X: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(Z, P)``: training rows in row-space coordinates ``(n, r)`` and ``P`` with ``V = X^T P``."""
    gram = np.asarray((X @ X.T).todense() if sparse.issparse(X) else X @ X.T, dtype=np.float64)  # (n, n)
    lam, U = np.linalg.eigh(gram)
    keep = lam > EIGEN_FLOOR * max(float(lam.max()), 1e-300)
    lam, U = lam[keep], U[:, keep]
    return U * np.sqrt(lam), U / np.sqrt(lam)  # Z (n, r), P (n, r)


class RowSpaceLogistic:
    """Multinomial (or binary) logistic regression fitted in the row space; predicts on the original features."""

    def __init__(self, C: float = 1.0, max_iter: int = 1000):
        self.C = C
        self.max_iter = max_iter

    def fit(self, X: Any, y: np.ndarray, basis: tuple[np.ndarray, np.ndarray] | None = None) -> RowSpaceLogistic:
        """Fit on ``X`` ``(n, d)``; ``basis`` is :func:`row_space` of ``X`` when already computed."""
        Z, P = basis if basis is not None else row_space(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence warnings at extreme C: the fit is still the best found
            model = LogisticRegression(C=self.C, max_iter=self.max_iter).fit(Z, y)
        self.classes_ = model.classes_
        self.coef_ = np.asarray(X.T @ (P @ model.coef_.T))  # (d, k): the weights in the original space
        self.intercept_ = model.intercept_
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities ``(n, len(classes_))``."""
        scores = np.asarray(X @ self.coef_) + self.intercept_  # (n, k)
        if scores.shape[1] == 1:  # binary: one logit for the second class
            p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.column_stack([1.0 - p, p])
        scores -= scores.max(axis=1, keepdims=True)
        exp = np.exp(scores)
        return exp / exp.sum(axis=1, keepdims=True)
