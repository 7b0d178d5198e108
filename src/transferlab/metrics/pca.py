"""Principal-component scores from the eigenvectors of the smaller Gram matrix.

GBC and N-LEEP reduce features with PCA before fitting diagonal Gaussians. scikit-learn's
``PCA(svd_solver="full")`` takes an SVD of the centred ``(n, d)`` matrix; an eigen-decomposition of
``X^T X`` (``d <= n``) or ``X X^T`` (``d > n``) gives the same scores, up to the sign of each
column, 3-8x faster at the sizes ranked here (600 x 384: 25 ms against 85 ms on one thread).
Neither caller can see the signs: a diagonal Gaussian's variances, squared mean differences and
k-means++ distances are all unchanged when a column flips. The leading eigenvalues come out to
round-off (the trailing ones lose accuracy, but both callers drop them).
"""

from __future__ import annotations

import numpy as np


def _eigen(Xc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of the centred ``Xc``'s Gram matrix (descending, clipped at 0) and the scores
    on the matching axes: ``(r,)`` and ``(n, r)`` with ``r = min(n, d)``."""
    n, d = Xc.shape
    if d <= n:
        eigenvalues, V = np.linalg.eigh(Xc.T @ Xc)  # ascending
        return np.maximum(eigenvalues[::-1], 0.0), Xc @ V[:, ::-1]  # (d,), (n, d)
    eigenvalues, U = np.linalg.eigh(Xc @ Xc.T)
    values = np.maximum(eigenvalues[::-1], 0.0)
    return values, U[:, ::-1] * np.sqrt(values)  # scores U s, (n, n)


def principal_components(X: np.ndarray, k: int) -> np.ndarray:
    """Scores ``(n, k)`` of ``X`` centred, on its ``k`` leading principal axes."""
    _, scores = _eigen(X - X.mean(axis=0))
    return scores[:, :k]


def components_for_variance(X: np.ndarray, fraction: float) -> np.ndarray:
    """Scores on the fewest leading axes whose explained variance passes ``fraction`` of the total.

    The count follows scikit-learn's rule for ``PCA(n_components=fraction)``: one more than the
    number of axes whose cumulative share is at most ``fraction``.
    """
    eigenvalues, scores = _eigen(X - X.mean(axis=0))
    share = np.cumsum(eigenvalues) / eigenvalues.sum()
    k = int(np.searchsorted(share, fraction, side="right")) + 1
    return scores[:, : min(k, scores.shape[1])]
