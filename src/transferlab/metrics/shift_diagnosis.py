"""What kind of shift is it? A plain-language diagnosis from the shift tests, with its evidence.

What can be told apart. Label shift (the class priors move, ``p(x | y)`` stays) also moves
``p(x)``, so the MMD and the domain classifier fire under pure label shift as much as under
covariate shift: neither can name the kind. Four tests are combined instead:

1. **MMD** and 2. **C2ST** on the inputs: does ``p(x)`` differ at all?
3. **Class priors**: a chi-square test of homogeneity of the class counts. With target labels,
   of the true labels; without, of a source classifier's predicted labels on held-out source
   and on target (BBSE's test, :mod:`transferlab.metrics.label_shift`).
4. **Class-conditional inputs**: is the input shift more than the change of class mix explains?
   With target labels, an MMD test whose permutations stay within classes (exact under
   ``p_s(x | y) = p_t(x | y)``); without, an MMD test between the target and a source subsample
   drawn to BBSE's estimated target priors (approximate: the estimate carries error).

Decision rule, every test at ``alpha / m`` with ``m`` the number of tests run (Bonferroni): the
chance that the diagnosis claims any shift that is not there is at most ``alpha``.

* nothing rejects: **no detectable shift** (not proof of none: the sample sizes are stated);
* the priors moved and the class-conditional test does not reject: **label shift**;
* the class-conditional test rejects and the priors did not move: **covariate shift**;
* both reject: **covariate and label shift**, with target labels. Without them a covariate shift
  alone moves the predicted class mix, so the label part cannot be confirmed: the diagnosis is
  **covariate shift**, and its sentence says that the predicted class mix moved too;
* only the input tests reject, or no labels to separate the kinds: **shift of undetermined kind**.

"Covariate shift" here means ``p(x | y)`` changed, which is how a covariate shift (``p(x)``
moving with ``p(y | x)`` fixed) shows when classes are fixed regions of input space. A concept
shift (``p(y | x)`` changing) needs target labels and a model to see, and is not diagnosed here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from transferlab.errors import bad_parameter
from transferlab.metrics.domain_classifier import DomainClassifierResult
from transferlab.metrics.mmd import MMDTestResult

KINDS = {
    "none": "no detectable shift",
    "covariate": "covariate shift",
    "label": "label shift",
    "covariate+label": "covariate and label shift",
    "undetermined": "shift of undetermined kind",
}


@dataclass(frozen=True)
class Evidence:
    """One test behind the diagnosis: what it asks, its statistic and p-value, and whether it rejected."""

    test: str
    asks: str
    statistic: float
    p_value: float
    rejected: bool
    detail: str = ""


@dataclass(frozen=True)
class ShiftDiagnosis:
    """The kind of shift (a key of ``KINDS``), one sentence that says it with its evidence, and the tests."""

    kind: str
    label: str
    sentence: str
    alpha: float
    threshold: float
    evidence: list[Evidence] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def diagnose_shift(
    mmd: MMDTestResult,
    c2st: DomainClassifierResult,
    priors: tuple[float, float, str] | None = None,
    conditional: MMDTestResult | None = None,
    target_labelled: bool = False,
    alpha: float = 0.05,
) -> ShiftDiagnosis:
    """Name the shift from the tests' results (see the module docstring for the rule).

    Parameters
    ----------
    mmd, c2st : test results on the inputs
    priors : (chi2, p_value, based_on), optional
        The class-prior test; ``based_on`` is "true labels" or "predicted labels".
    conditional : MMDTestResult, optional
        The class-conditional (class-mix matched) MMD test.
    target_labelled : bool
        Whether ``priors`` and ``conditional`` used true target labels.
    alpha : float
        Family-wise false-alarm level of the whole diagnosis.

    Returns
    -------
    ShiftDiagnosis
    """
    if not 0.0 < alpha < 1.0:
        raise bad_parameter("diagnose_shift", "alpha", alpha, "between 0 and 1")
    m = 2 + (priors is not None) + (conditional is not None)
    threshold = alpha / m
    evidence = _input_evidence(mmd, c2st, threshold)
    if priors is not None:
        evidence.append(_priors_evidence(priors, threshold))
    if conditional is not None:
        evidence.append(_conditional_evidence(conditional, threshold, target_labelled))
    kind = _kind(evidence, priors is not None, conditional is not None, target_labelled)
    sentence = _sentence(kind, evidence, target_labelled, threshold, mmd)
    return ShiftDiagnosis(kind, KINDS[kind], sentence, alpha, threshold, evidence)


def prior_matched_rows(y_source: np.ndarray, target_priors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sorted source rows whose class mix is ``target_priors``: as many as the scarcest class allows.

    Class ``j`` gets ``floor(q_j * n)`` rows, drawn without replacement, with ``n`` the largest
    size every class can supply (``min_j n_j / q_j``): a sample of the source reweighted to the
    target's class priors, with no row repeated (a repeated row would bias the MMD upwards).
    """
    q = np.asarray(target_priors, dtype=float)
    counts = np.bincount(y_source, minlength=q.size).astype(float)
    present = q > 0
    n = float(np.min(counts[present] / q[present])) if present.any() else 0.0
    take = np.floor(q * n + 1e-9).astype(np.int64)
    rows = [rng.choice(np.flatnonzero(y_source == j), size=take[j], replace=False) for j in range(q.size) if take[j]]
    return np.sort(np.concatenate(rows)) if rows else np.zeros(0, np.int64)


def _input_evidence(mmd: MMDTestResult, c2st: DomainClassifierResult, threshold: float) -> list[Evidence]:
    auc = f"AUC {c2st.auc:.3f} [{c2st.auc_lo:.3f}, {c2st.auc_hi:.3f}]"
    tells = "can a classifier tell the domains apart?"
    return [
        Evidence("MMD", "do the inputs differ?", mmd.statistic, mmd.p_value, mmd.p_value <= threshold, "MMD²"),
        Evidence("C2ST", tells, c2st.auc, c2st.p_value, c2st.p_value <= threshold, auc),
    ]


def _priors_evidence(priors: tuple[float, float, str], threshold: float) -> Evidence:
    chi2, p_value, based_on = priors
    return Evidence("class priors", "did the class mix move?", chi2, p_value, p_value <= threshold, based_on)


def _conditional_evidence(result: MMDTestResult, threshold: float, target_labelled: bool) -> Evidence:
    how = "permutations within classes" if target_labelled else "source resampled to BBSE's target priors"
    asks = "do the inputs differ beyond the class mix?"
    return Evidence("class-conditional MMD", asks, result.statistic, result.p_value, result.p_value <= threshold, how)


def _kind(evidence: list[Evidence], has_priors: bool, has_conditional: bool, target_labelled: bool) -> str:
    rejected = {e.test: e.rejected for e in evidence}
    if not any(rejected.values()):
        return "none"
    label, covariate = rejected.get("class priors", False), rejected.get("class-conditional MMD", False)
    if not (has_priors and has_conditional) or not (label or covariate):
        return "undetermined"
    if label and covariate:
        return "covariate+label" if target_labelled else "covariate"
    return "label" if label else "covariate"


def _sentence(kind: str, evidence: list[Evidence], target_labelled: bool, threshold: float, mmd: MMDTestResult) -> str:
    """The kind, then every test's result: '<kind>: MMD 0.0123, p=0.001 (rejects); ...'."""
    said = "; ".join(f"{e.test} {_fmt(e)} ({'rejects' if e.rejected else 'no'})" for e in evidence)
    said += f" (each test at p <= {threshold:.3g})"
    priors = next((e for e in evidence if e.test == "class priors"), None)
    if kind == "none":
        return f"{KINDS[kind]} at n = {mmd.n_source} + {mmd.n_target}: {said}"
    if kind == "undetermined":
        why = (
            "no shared labels to separate covariate from label shift"
            if priors is None
            else "neither the class mix nor the class-conditional inputs differ detectably on their own"
        )
        return f"{KINDS[kind]} ({why}): {said}"
    lead = KINDS[kind]
    if kind == "covariate" and priors is not None and priors.rejected and not target_labelled:
        lead += (
            "; the predicted class mix moved too, which covariate shift alone can cause:"
            " target labels would tell whether the priors changed"
        )
    return f"{lead}: {said}"


def _fmt(e: Evidence) -> str:
    p = f"p={e.p_value:.2g}" if e.p_value >= 1e-4 else "p<1e-4"
    if e.test == "C2ST":
        return f"{e.detail}, {p}"
    if e.test == "class priors":
        return f"chi2={e.statistic:.1f} on {e.detail}, {p}"
    return f"{e.statistic:.4f}, {p}"
