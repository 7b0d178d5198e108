"""Bootstrap uncertainty for transferability scores and the probability each source ranks first.

Scores of close sources often differ by less than their sampling noise. Resampling the target
examples (stratified, so every class survives) gives a spread per source; using the *same*
resampled indices for every source (a paired bootstrap) cancels the noise the sources share, so
:func:`prob_best` measures how often a source really comes out on top.

Note: resampling duplicates examples, which flatters the scores that look at neighbours or held-out
folds (``knn-loo``, ``linear-cv``): a duplicate is its own nearest neighbour. Their bootstrap spread
is still usable for comparing sources; their bootstrap mean is biased upwards.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.metrics.base import Metric, get_metric
from transferlab.metrics.transfer_inputs import check_transfer_inputs

# Percentiles of the reported interval (a 95% percentile-bootstrap interval).
_INTERVAL = (2.5, 97.5)


def stratified_bootstrap(labels: np.ndarray, n_boot: int, random_state: int = 0) -> np.ndarray:
    """Indices of stratified bootstrap samples.

    Each class is resampled with replacement to its own size, and redrawn until it holds at least
    two distinct examples, so every replicate passes the checks of every score.

    Parameters
    ----------
    labels : ndarray of shape (n_samples,)
    n_boot : int
        Number of replicates.
    random_state : int
        Seed of the resampling.

    Returns
    -------
    ndarray of shape (n_boot, n_samples)
        Row ``b`` indexes the examples of replicate ``b``.
    """
    if not (isinstance(n_boot, int | np.integer) and n_boot >= 1):
        raise bad_parameter("bootstrap", "n_boot", n_boot, "a positive int")
    labels = np.asarray(labels)
    _, y, _ = check_transfer_inputs("bootstrap", np.zeros((labels.shape[0] if labels.ndim else 1, 1)), labels)
    rng = np.random.default_rng(random_state)
    members = [np.flatnonzero(y == c) for c in range(y.max() + 1)]
    samples = np.empty((n_boot, y.size), dtype=np.intp)
    for b in range(n_boot):
        samples[b] = np.concatenate([_resample_class(idx, rng) for idx in members])
    return samples


def _resample_class(idx: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    while True:
        draw = rng.choice(idx, size=idx.size, replace=True)
        if np.unique(draw).size >= 2:
            return draw


def _resolve(metric: str | Metric | Callable[..., float]) -> Callable[..., float]:
    return get_metric(metric) if isinstance(metric, str) else metric


def bootstrap_scores(
    metric: str | Metric | Callable[..., float],
    features_by_source: Mapping[str, np.ndarray],
    labels: np.ndarray,
    n_boot: int = 50,
    random_state: int = 0,
) -> dict[str, np.ndarray]:
    """Paired bootstrap: the score of every source on the same resampled examples.

    Parameters
    ----------
    metric : str, Metric or callable
        A registered metric name, or a function ``fn(X, labels) -> float``.
    features_by_source : mapping of str to ndarray of shape (n_samples, n_columns)
        Each source's features (or probabilities) for the same target examples, in the same order.
    labels : ndarray of shape (n_samples,)
    n_boot : int
        Number of bootstrap replicates.
    random_state : int
        Seed of the resampling.

    Returns
    -------
    dict of str to ndarray of shape (n_boot,)
        Replicate scores per source; replicate ``b`` used the same indices for every source.
    """
    fn = _resolve(metric)
    n = len(labels)
    for source, X in features_by_source.items():
        if np.shape(X)[0] != n:
            raise InputError(
                f"bootstrap: expected every source to have one row per label ({n}), found "
                f"{np.shape(X)[0]} rows for source {source!r}; fix: embed the same target examples"
            )
    samples = stratified_bootstrap(labels, n_boot, random_state)
    labels = np.asarray(labels)
    return {
        source: np.array([fn(np.asarray(X)[idx], labels[idx]) for idx in samples])
        for source, X in features_by_source.items()
    }


def score_with_uncertainty(
    metric_name: str, features: np.ndarray, labels: np.ndarray, n_boot: int = 50, random_state: int = 0
) -> dict[str, float]:
    """A score with its stratified-bootstrap spread.

    Parameters
    ----------
    metric_name : str
        A registered metric name (its first input may be features or source probabilities).
    features : ndarray of shape (n_samples, n_columns)
    labels : ndarray of shape (n_samples,)
    n_boot, random_state : int
        Replicates and seed of the bootstrap.

    Returns
    -------
    dict
        ``value`` (on all examples), ``std`` (of the replicates), ``lo`` and ``hi`` (2.5th and
        97.5th percentiles of the replicates).
    """
    value = float(_resolve(metric_name)(features, labels))
    replicates = bootstrap_scores(metric_name, {"_": features}, labels, n_boot, random_state)["_"]
    lo, hi = np.percentile(replicates, _INTERVAL)
    return {
        "value": value,
        "std": float(np.std(replicates, ddof=1)) if n_boot > 1 else 0.0,
        "lo": float(lo),
        "hi": float(hi),
    }


def prob_best(samples: Mapping[str, np.ndarray], higher_is_better: bool = True) -> dict[str, float]:
    """Fraction of paired replicates in which each source scores best.

    Parameters
    ----------
    samples : mapping of str to ndarray of shape (n_boot,)
        Paired replicate scores per source, as returned by :func:`bootstrap_scores`.
    higher_is_better : bool
        Direction of the score.

    Returns
    -------
    dict of str to float
        Sums to 1; a replicate where several sources tie for first is shared equally among them.
    """
    names = list(samples)
    lengths = {np.shape(samples[s]) for s in names}
    if not names or len(lengths) != 1 or len(next(iter(lengths))) != 1:
        raise InputError(
            f"prob_best: expected one 1-D array of paired replicates per source, all the same length, "
            f"found shapes {sorted(lengths)}; fix: pass the output of bootstrap_scores"
        )
    scores = np.stack([np.asarray(samples[s], dtype=float) for s in names])  # (S, B)
    if not higher_is_better:
        scores = -scores
    is_best = scores == scores.max(axis=0, keepdims=True)  # (S, B)
    share = is_best / is_best.sum(axis=0, keepdims=True)
    return {s: float(v) for s, v in zip(names, share.mean(axis=1), strict=True)}
