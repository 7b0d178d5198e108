"""A domain classifier between two samples: the classifier two-sample test and the proxy A-distance.

Lopez-Paz, Oquab. "Revisiting Classifier Two-Sample Tests", ICLR 2017.
Ben-David, Blitzer, Crammer, Pereira. "Analysis of Representations for Domain Adaptation",
NIPS 2007; Ben-David et al. "A theory of learning from different domains", Mach. Learn. 2010.
Nadeau, Bengio. "Inference for the Generalization Error", Mach. Learn. 52, 2003.

One logistic regression (standardised features, balanced class weights) learns to tell target
rows from source rows, cross-fitted over ``n_folds`` stratified folds: each row is scored by the
model that did not see it.

* **C2ST.** The held-out AUC of each fold, averaged. The AUC, not the accuracy of the original
  paper, because it does not depend on a threshold or on the two sample sizes. Per fold, the
  held-out rows are independent of the fold's model, so under "no shift" the fold's AUC is a
  Mann-Whitney statistic with mean exactly 1/2 and a known variance (tie-corrected). Pooling the
  scores of different folds would lose that (the fold models differ in offset), hence the mean of
  per-fold AUCs. The folds are *not* independent, though: every fold's model is trained on the
  other folds' rows, so a chance difference between two folds enters both of their AUCs. In
  simulations under no shift (n = 40 to 500 per side, d = 5 to 200) the fold AUCs correlated at
  0.18-0.24, and treating them as independent rejected 9-12 % of the time at nominal 5 %. The
  variance of the mean therefore takes Nadeau & Bengio's (2003) correction for overlapping
  training sets, ``var_fold * (1/K + 1/(K - 1))``, which in the same simulations rejected
  1.7-4.3 % at nominal 5 % (slightly conservative) and covered 1/2 in 94-98 % of runs. The
  interval uses DeLong's variance per fold (DeLong, DeLong, Clarke-Pearson 1988, in the midrank
  form of Sun & Xu 2014), valid at any AUC where Hanley-McNeil's formula assumes exponential
  score distributions; the p-value is one-sided against AUC = 1/2 with the Mann-Whitney null
  variance: a domain classifier below chance is noise, not shift.
* **Proxy A-distance.** ``2 (1 - 2 err)`` with ``err`` the held-out *balanced* error (the mean of
  the error on each domain). Ben-David's ``d_A = 2 sup_h |P_S(h = 1) - P_T(h = 1)|`` equals
  ``2 (1 - (err_S(h) + err_T(h)))``, so the balanced error is the quantity in the definition; the
  plain error would reward predicting the larger domain. Clipped to [0, 2] (an error above 1/2
  is noise around "indistinguishable"); its interval comes from the binomial variance of the
  two per-domain errors, with the same Nadeau-Bengio inflation as the AUC. It is the divergence
  estimate of the Ben-David bound (:mod:`transferlab.metrics.shift_bound`).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy import stats

from transferlab.errors import bad_parameter
from transferlab.metrics.base import register_metric
from transferlab.metrics.shift_inputs import check_two_samples, one_blas_thread, subsample_rows


@dataclass(frozen=True)
class DomainClassifierResult:
    """C2ST (held-out AUC, its interval and p-value) and the proxy A-distance of one domain classifier."""

    auc: float
    auc_lo: float
    auc_hi: float
    p_value: float
    balanced_error: float
    pad: float
    pad_lo: float
    pad_hi: float
    n_source: int
    n_target: int
    n_folds: int
    confidence: float
    test: str = "classifier two-sample test (logistic regression, cross-fitted AUC, DeLong interval)"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@register_metric("c2st-auc", higher_is_better=False, needs=("X_source", "X_target"), kind="shift")
def c2st_auc(X_source: np.ndarray, X_target: np.ndarray, random_state: int = 0) -> float:
    """Held-out AUC of a logistic-regression domain classifier (Lopez-Paz & Oquab 2017); 0.5 = no shift."""
    return domain_classifier_test(X_source, X_target, random_state=random_state).auc


@register_metric("proxy-a-distance", higher_is_better=False, needs=("X_source", "X_target"), kind="shift")
def proxy_a_distance(X_source: np.ndarray, X_target: np.ndarray, random_state: int = 0) -> float:
    """Proxy A-distance ``2 (1 - 2 err)`` of a held-out domain classifier (Ben-David et al. 2007), in [0, 2]."""
    return domain_classifier_test(X_source, X_target, random_state=random_state).pad


def domain_classifier_test(
    X_source: np.ndarray,
    X_target: np.ndarray,
    n_folds: int = 5,
    C: float = 1.0,
    max_samples: int | None = 2000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> DomainClassifierResult:
    """Cross-fitted logistic-regression domain classifier: C2ST and proxy A-distance.

    Parameters
    ----------
    X_source, X_target : ndarray of shape (n, n_features)
    n_folds : int
        Stratified folds (capped by the smaller sample).
    C : float
        Inverse L2 strength of the logistic regression.
    max_samples : int or None
        Rows kept per side (uniform subsample); None keeps all.
    confidence : float
        Level of the AUC and PAD intervals.
    random_state : int or None
        Seed of the subsample and the folds.

    Returns
    -------
    DomainClassifierResult
    """
    X, Y = check_two_samples("domain_classifier_test", X_source, X_target, min_rows=2)
    if not (isinstance(n_folds, int | np.integer) and n_folds >= 2):
        raise bad_parameter("domain_classifier_test", "n_folds", n_folds, "an int >= 2")
    rng = np.random.default_rng(random_state)
    X, Y = X[subsample_rows(len(X), max_samples, rng)], Y[subsample_rows(len(Y), max_samples, rng)]
    Z = np.vstack([X, Y])  # (N, d)
    domain = np.r_[np.zeros(len(X), np.int64), np.ones(len(Y), np.int64)]  # (N,) 1 = target
    folds = _fold_ids(domain, min(int(n_folds), len(X), len(Y)), int(rng.integers(2**31)))
    scores = _cross_fitted_scores(Z, domain, folds, C)  # (N,) held-out decision values
    return _summarise(scores, domain, folds, confidence)


def _summarise(scores: np.ndarray, domain: np.ndarray, folds: np.ndarray, confidence: float) -> DomainClassifierResult:
    """AUC with interval and p-value, balanced error and PAD with interval, from held-out scores."""
    K = int(folds.max()) + 1
    inflation = 1.0 / K + 1.0 / (K - 1)  # Nadeau & Bengio (2003): the folds share training rows
    auc, var, var0 = _fold_aucs(scores, domain, folds)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    p_value = float(stats.norm.sf((auc - 0.5) / np.sqrt(var0 * inflation))) if var0 > 0 else 1.0
    half = z * np.sqrt(var * inflation)
    err_s, err_t = float(np.mean(scores[domain == 0] > 0)), float(np.mean(scores[domain == 1] <= 0))
    m, n = int(np.sum(domain == 0)), int(np.sum(domain == 1))
    # the pooled error is the mean of K fold errors, each on N / K rows: the same inflation applies
    se = 0.5 * float(np.sqrt((err_s * (1 - err_s) / m + err_t * (1 - err_t) / n) * K * inflation))
    err = (err_s + err_t) / 2
    return DomainClassifierResult(
        auc=auc,
        auc_lo=float(max(0.0, auc - half)),
        auc_hi=float(min(1.0, auc + half)),
        p_value=p_value,
        balanced_error=err,
        pad=_pad_of(err),
        pad_lo=_pad_of(err + z * se),
        pad_hi=_pad_of(err - z * se),
        n_source=m,
        n_target=n,
        n_folds=K,
        confidence=confidence,
    )


def _fold_ids(domain: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Stratified fold index per row (N,)."""
    from sklearn.model_selection import StratifiedKFold

    folds = np.empty(domain.size, np.int64)
    split = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for k, (_, held_out) in enumerate(split.split(np.zeros(domain.size), domain)):
        folds[held_out] = k
    return folds


def _cross_fitted_scores(Z: np.ndarray, domain: np.ndarray, folds: np.ndarray, C: float) -> np.ndarray:
    """Decision value of each row from the model fitted on the other folds; > 0 means "target"."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    scores = np.empty(domain.size)
    with one_blas_thread(), warnings.catch_warnings():
        # a non-converged fit still gives honest held-out scores; the AUC is what is reported
        warnings.simplefilter("ignore", ConvergenceWarning)
        for k in range(int(folds.max()) + 1):
            train, test = folds != k, folds == k
            model = make_pipeline(StandardScaler(), LogisticRegression(C=C, class_weight="balanced", max_iter=1000))
            model.fit(Z[train], domain[train])
            scores[test] = model.decision_function(Z[test])
    return scores


def _fold_aucs(scores: np.ndarray, domain: np.ndarray, folds: np.ndarray) -> tuple[float, float, float]:
    """Mean held-out AUC over folds, and the mean per-fold DeLong variance and null variance."""
    aucs, variances, null_variances = [], [], []
    for k in range(int(folds.max()) + 1):
        s, d = scores[folds == k], domain[folds == k]
        auc, var = delong_auc(s[d == 1], s[d == 0])
        aucs.append(auc)
        variances.append(var)
        null_variances.append(mann_whitney_null_variance(s, int(d.sum()), int((d == 0).sum())))
    return float(np.mean(aucs)), float(np.mean(variances)), float(np.mean(null_variances))


def delong_auc(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """AUC of scores ``positive`` (m,) against ``negative`` (n,) and DeLong's variance of it.

    DeLong, DeLong, Clarke-Pearson (1988), Biometrics 44(3), in the midrank form of Sun & Xu
    (2014), IEEE Signal Process. Lett. 21(11): ties count 1/2.
    """
    m, n = positive.size, negative.size
    both = stats.rankdata(np.r_[positive, negative])  # (m + n,) midranks
    rank_pos, rank_neg = stats.rankdata(positive), stats.rankdata(negative)
    auc = (both[:m].sum() - m * (m + 1) / 2) / (m * n)
    v10 = (both[:m] - rank_pos) / n  # (m,) share of negatives below each positive
    v01 = 1.0 - (both[m:] - rank_neg) / m  # (n,) share of positives above each negative
    var = (np.var(v10, ddof=1) / m if m > 1 else 0.0) + (np.var(v01, ddof=1) / n if n > 1 else 0.0)
    return float(auc), float(var)


def mann_whitney_null_variance(scores: np.ndarray, m: int, n: int) -> float:
    """Variance of AUC = U / (m n) when the ``m + n`` scores are exchangeable, ties corrected."""
    N = m + n
    _, counts = np.unique(scores, return_counts=True)
    tie_term = float(np.sum(counts**3 - counts)) / (N * (N - 1)) if N > 1 else 0.0
    return (N + 1 - tie_term) / (12.0 * m * n)


def _pad_of(balanced_error: float) -> float:
    return float(np.clip(2.0 * (1.0 - 2.0 * balanced_error), 0.0, 2.0))
