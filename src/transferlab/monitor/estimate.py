"""Accuracy on a batch without its labels: four estimators, each with an interval.

Every estimator reads the arm's probabilities on the batch and what the reference (held-out
labelled data the arm never trained on) says about them:

* **Average confidence** (AC): the mean of the top probability. Right only if the model is
  calibrated *on the batch*; a shift usually makes it over-confident.
* **ATC**, average thresholded confidence (Garg, Balakrishnan, Lipton, Neyshabur, Sedghi,
  "Leveraging unlabeled data to predict out-of-distribution performance", ICLR 2022): a
  threshold ``t`` on a confidence score is chosen on the reference so that the share of
  reference examples scoring above it equals the reference accuracy; the estimate is the share of
  batch examples above ``t``. The score is the negative entropy (the paper's ATC-NE, its best).
* **DoC**, difference of confidences (Guillory, Shankar, Ebrahimi, Darrell, Schmidt,
  "Predicting with confidence on unseen distributions", ICCV 2021): reference accuracy minus
  the drop in average confidence from the reference to the batch.
* **Importance-weighted** (IW): the reference's correctness weighted by density ratios
  ``p_batch(x) / p_ref(x)`` from the cross-fitted domain classifier of
  :mod:`transferlab.metrics.density_ratio` on the reference's 32 leading principal components,
  truncated at 20 times the mean (Cortes et al. 2010)
  (Sugiyama, Krauledat, Müller, "Covariate shift adaptation by importance weighted cross
  validation", JMLR 2007). Right under covariate shift where the two samples overlap; the
  effective sample size says when they do not.

Intervals. AC, ATC and DoC: a percentile bootstrap that resamples the reference rows and the
batch rows independently (both are samples: the threshold and the reference confidence carry
error too). IW: the normal interval of a weighted mean, ``sqrt(sum w^2 (c - est)^2) / sum w``,
with the weights held fixed (their own estimation error is not in it). No interval covers an
estimator's *bias* under shift: on the benchmark's shifted batches an estimate can be off by more
than its interval (``benchmarks/bench_monitor.py`` measures by how much).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

ESTIMATORS = ("confidence", "atc", "doc", "iw")
IW_MAX_WEIGHT = 20.0
# The density ratio is estimated on the reference's 32 leading principal components, not on all 384
# embedding dimensions: a domain classifier fitted on a few hundred rows has far fewer
# coefficients to estimate there, and its cross-validated fit took about half the time per batch.
IW_COMPONENTS = 32


@dataclass(frozen=True)
class Estimate:
    """One estimator's accuracy estimate with its interval, and how the interval was made."""

    method: str
    accuracy: float
    lo: float
    hi: float
    interval: str
    effective_sample_size: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def top_confidence(proba: np.ndarray) -> np.ndarray:
    """The largest probability of each row ``(n, C) -> (n,)``."""
    return np.asarray(proba, dtype=np.float64).max(axis=1)


def negative_entropy(proba: np.ndarray) -> np.ndarray:
    """``sum_c p_c log p_c`` of each row ``(n, C) -> (n,)``: 0 for a one-hot row, lower when unsure."""
    p = np.clip(np.asarray(proba, dtype=np.float64), 1e-12, 1.0)
    return np.asarray((p * np.log(p)).sum(axis=1))


def atc_threshold(scores: np.ndarray, correct: np.ndarray) -> float:
    """The ATC threshold: the share of ``scores`` strictly above it equals the accuracy ``mean(correct)``.

    Garg et al. (2022), eq. 1. With ``k = round(n (1 - acc))`` reference scores at or below it, the
    threshold is the ``k``-th smallest score (``-inf`` when the reference is always right).
    """
    return float(_atc_thresholds(np.asarray(scores, np.float64)[None, :], np.asarray(correct, np.float64)[None, :])[0])


def atc_estimate(threshold: float, batch_scores: np.ndarray) -> float:
    """Share of batch examples whose score is above the ATC threshold."""
    return float(np.mean(np.asarray(batch_scores) > threshold))


def doc_estimate(reference_accuracy: float, reference_confidence: float, batch_confidence: float) -> float:
    """Difference of confidences: ``acc_ref - (conf_ref - conf_batch)``, clipped to [0, 1] (Guillory et al. 2021)."""
    return float(np.clip(reference_accuracy - (reference_confidence - batch_confidence), 0.0, 1.0))


def weighted_accuracy(correct: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Importance-weighted accuracy of the reference and its standard error (weights held fixed)."""
    c, w = np.asarray(correct, np.float64), np.asarray(weights, np.float64)
    estimate = float(np.sum(w * c) / np.sum(w))
    se = float(np.sqrt(np.sum(w**2 * (c - estimate) ** 2)) / np.sum(w))
    return estimate, se


def estimate_accuracy(
    reference_proba: np.ndarray,
    reference_correct: np.ndarray,
    batch_proba: np.ndarray,
    X_reference: np.ndarray | None = None,
    X_batch: np.ndarray | None = None,
    n_boot: int = 500,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> list[Estimate]:
    """AC, ATC, DoC and (with features) IW estimates of the accuracy on a batch, with intervals.

    Parameters
    ----------
    reference_proba : ndarray (n_ref, C)
        The arm's probabilities on held-out labelled reference examples.
    reference_correct : ndarray (n_ref,) of bool
        Whether the arm was right on each of them.
    batch_proba : ndarray (n, C)
        The arm's probabilities on the batch.
    X_reference, X_batch : ndarray (n_ref, d), (n, d), optional
        Embeddings of both, for the importance-weighted estimate (left out without them).
    n_boot, confidence, random_state
        Bootstrap replicates, interval level, seed.

    Returns
    -------
    list of Estimate, in the order of ``ESTIMATORS``.
    """
    ref_p, batch_p = np.asarray(reference_proba, np.float64), np.asarray(batch_proba, np.float64)
    correct = np.asarray(reference_correct, np.float64)
    rng = np.random.default_rng(random_state)
    ref_rows = rng.integers(0, len(ref_p), size=(n_boot, len(ref_p)))  # (B, n_ref)
    batch_rows = rng.integers(0, len(batch_p), size=(n_boot, len(batch_p)))  # (B, n)
    boot = _bootstrap_estimates(ref_p, correct, batch_p, ref_rows, batch_rows)
    point = _point_estimates(ref_p, correct, batch_p)
    tail = 50 * (1 - confidence)
    how = f"percentile bootstrap over reference and batch rows ({n_boot} replicates)"
    estimates = [
        Estimate(m, point[m], *np.percentile(boot[m], [tail, 100 - tail]).tolist(), how) for m in ESTIMATORS[:3]
    ]
    if X_reference is not None and X_batch is not None:
        estimates.append(_iw_estimate(X_reference, X_batch, correct, confidence, random_state))
    return estimates


def _point_estimates(ref_p: np.ndarray, correct: np.ndarray, batch_p: np.ndarray) -> dict[str, float]:
    batch_conf = float(top_confidence(batch_p).mean())
    threshold = atc_threshold(negative_entropy(ref_p), correct)
    return {
        "confidence": batch_conf,
        "atc": atc_estimate(threshold, negative_entropy(batch_p)),
        "doc": doc_estimate(float(correct.mean()), float(top_confidence(ref_p).mean()), batch_conf),
    }


def _bootstrap_estimates(
    ref_p: np.ndarray, correct: np.ndarray, batch_p: np.ndarray, ref_rows: np.ndarray, batch_rows: np.ndarray
) -> dict[str, np.ndarray]:
    """AC, ATC and DoC on every bootstrap replicate, vectorised: each ``(B,)``."""
    ref_conf, batch_conf = top_confidence(ref_p), top_confidence(batch_p)
    ref_score, batch_score = negative_entropy(ref_p), negative_entropy(batch_p)
    conf_b = batch_conf[batch_rows].mean(axis=1)  # (B,)
    thresholds = _atc_thresholds(ref_score[ref_rows], correct[ref_rows])  # (B,)
    atc_b = (batch_score[batch_rows] > thresholds[:, None]).mean(axis=1)
    doc_b = np.clip(correct[ref_rows].mean(axis=1) - ref_conf[ref_rows].mean(axis=1) + conf_b, 0.0, 1.0)
    return {"confidence": conf_b, "atc": atc_b, "doc": doc_b}


def _atc_thresholds(scores: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Row-wise ATC thresholds of ``scores`` ``(B, n)`` for the accuracies ``correct.mean(1)``."""
    n = scores.shape[1]
    ordered = np.sort(scores, axis=1)  # (B, n)
    below = np.rint(n * (1.0 - correct.mean(axis=1))).astype(np.int64)  # (B,) reference errors
    picked = ordered[np.arange(len(ordered)), np.maximum(below - 1, 0)]
    return np.where(below > 0, picked, -np.inf)


def reference_components(X_reference: np.ndarray, X_batch: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Both samples on the reference's ``k`` leading principal axes: ``(n_ref, k')``, ``(n, k')``."""
    mean = X_reference.mean(axis=0)
    _, _, Vt = np.linalg.svd(X_reference - mean, full_matrices=False)  # rows: principal axes
    axes = Vt[: min(k, Vt.shape[0])].T  # (d, k')
    return (X_reference - mean) @ axes, (X_batch - mean) @ axes


def _iw_estimate(
    X_reference: np.ndarray, X_batch: np.ndarray, correct: np.ndarray, confidence: float, random_state: int | None
) -> Estimate:
    from scipy import stats

    from transferlab.metrics.density_ratio import domain_classifier_weights, effective_sample_size, truncate_weights

    Z_reference, Z_batch = reference_components(X_reference, X_batch, IW_COMPONENTS)
    raw = domain_classifier_weights(Z_reference, Z_batch, random_state=random_state)
    weights = truncate_weights(raw, IW_MAX_WEIGHT)
    estimate, se = weighted_accuracy(correct, weights)
    half = float(stats.norm.ppf(0.5 + confidence / 2)) * se
    how = "normal interval of the weighted mean, weights held fixed"
    lo, hi = max(0.0, estimate - half), min(1.0, estimate + half)
    return Estimate("iw", estimate, lo, hi, how, effective_sample_size(weights))
