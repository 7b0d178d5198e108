"""Label shift: black-box shift estimation (BBSE) and a test of unchanged class priors.

Lipton, Wang, Smola. "Detecting and Correcting for Label Shift with Black Box Predictors",
ICML 2018.

Under label shift the class-conditionals stay put (``p_t(x | y) = p_s(x | y)``) and only the
priors move, so any fixed classifier ``f`` has the same confusion ``M[i, j] = P(f = i | y = j)``
in both domains, and the distribution of its predictions on the target is ``mu_t = M q`` with
``q`` the target priors. BBSE estimates ``M`` from held-out labelled source examples, ``mu_t``
from the target predictions, solves for ``q``, and reports the importance weights
``w = q / p_s`` (``p_t(y) / p_s(y)``) that reweight the source into the target.

* Negative solutions (sampling noise, or an assumption that does not hold) are clipped to 0 and
  ``q`` renormalised, as in the paper; ``clipped`` says when that happened.
* The error of ``q`` grows as ``1 / sigma_min(M)`` (Lipton et al., Theorem 3). A classifier
  that confuses two classes makes ``M`` nearly singular; below ``sigma_min = 0.1`` the result
  carries ``ill_conditioned`` and a note naming the two classes most involved.
* The interval is a percentile bootstrap: the held-out source ``(prediction, label)`` pairs and
  the target predictions are resampled independently. Resampling pairs is drawing the joint
  confusion counts from a multinomial, so ``B`` replicates cost ``B`` small solves.
* "No label shift" (``w = 1``) means ``mu_t = M p_s``: the predictions are distributed alike on
  the held-out source and on the target. :func:`label_distribution_test` tests that with a
  chi-square test of homogeneity (as Lipton et al. suggest for detection). The same test on
  true labels compares the measured class priors where target labels exist.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from transferlab.errors import InputError
from transferlab.metrics.shift_inputs import check_codes

# Smallest singular value of P(prediction | class) below which the weights are flagged as unreliable.
_ILL_CONDITIONED = 0.1


@dataclass(frozen=True)
class LabelShiftResult:
    """BBSE estimates with bootstrap intervals, the no-label-shift test and conditioning diagnostics."""

    source_priors: list[float]
    target_priors: list[float]
    target_priors_lo: list[float]
    target_priors_hi: list[float]
    weights: list[float]
    weights_lo: list[float]
    weights_hi: list[float]
    chi2: float
    dof: int
    p_value: float
    min_singular_value: float
    ill_conditioned: bool
    clipped: bool
    n_source: int
    n_target: int
    n_boot: int
    confidence: float
    notes: list[str] = field(default_factory=list)
    method: str = "black-box shift estimation (Lipton et al. 2018), hard predictions, bootstrap interval"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def black_box_shift_estimation(
    y_source: np.ndarray,
    pred_source: np.ndarray,
    pred_target: np.ndarray,
    n_classes: int | None = None,
    classes: list[str] | None = None,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> LabelShiftResult:
    """Target class priors and importance weights ``p_t(y) / p_s(y)`` from a black-box classifier.

    Parameters
    ----------
    y_source : ndarray of int, shape (n_source,)
        Labels of held-out source examples (not used to train the classifier).
    pred_source : ndarray of shape (n_source,) or (n_source, n_classes)
        The classifier's predictions on those examples: class codes or probabilities.
    pred_target : ndarray of shape (n_target,) or (n_target, n_classes)
        Its predictions on the target sample.
    n_classes : int, optional
        Number of classes; default inferred from the labels and predictions.
    classes : list of str, optional
        Class names, used in notes only.
    n_boot : int
        Bootstrap replicates for the intervals.
    confidence : float
    random_state : int or None

    Returns
    -------
    LabelShiftResult
    """
    y, f_s, f_t, k = _check(y_source, pred_source, pred_target, n_classes)
    names = classes or [str(j) for j in range(k)]
    missing = [names[j] for j in range(k) if not np.any(y == j)]
    if missing:
        raise InputError(
            f"black_box_shift_estimation: every class needs held-out source examples, found none of "
            f"{missing}; fix: hold out more source examples per class or drop those classes"
        )
    joint = np.zeros((k, k))
    np.add.at(joint, (f_s, y), 1.0)  # (k, k) counts of (prediction i, label j)
    mu_t = np.bincount(f_t, minlength=k) / f_t.size  # (k,)
    q, w, clipped = solve_priors(joint[None] / y.size, mu_t[None])
    sigma_min = float(np.linalg.svd(_conditional(joint), compute_uv=False).min())
    boot_q, boot_w = _bootstrap(joint, f_t, n_boot, np.random.default_rng(random_state))
    chi2, dof, p_value = label_distribution_test(f_s, f_t, k)
    lo, hi = 50 * (1 - confidence), 50 * (1 + confidence)
    notes = _notes(joint, sigma_min, bool(clipped[0]), boot_q.shape[0], n_boot, names)
    return LabelShiftResult(
        source_priors=(joint.sum(axis=0) / y.size).tolist(),
        target_priors=q[0].tolist(),
        target_priors_lo=np.percentile(boot_q, lo, axis=0).tolist(),
        target_priors_hi=np.percentile(boot_q, hi, axis=0).tolist(),
        weights=w[0].tolist(),
        weights_lo=np.percentile(boot_w, lo, axis=0).tolist(),
        weights_hi=np.percentile(boot_w, hi, axis=0).tolist(),
        chi2=chi2,
        dof=dof,
        p_value=p_value,
        min_singular_value=sigma_min,
        ill_conditioned=sigma_min < _ILL_CONDITIONED,
        clipped=bool(clipped[0]),
        n_source=int(y.size),
        n_target=int(f_t.size),
        n_boot=int(boot_q.shape[0]),
        confidence=confidence,
        notes=notes,
    )


def solve_priors(joint: np.ndarray, mu_target: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BBSE's solve for a stack of problems: target priors ``q``, weights ``w``, and whether each was clipped.

    Parameters
    ----------
    joint : ndarray of shape (B, k, k)
        Joint confusion ``P_s(f = i, y = j)`` (rows: predictions, columns: labels); every column
        must have mass.
    mu_target : ndarray of shape (B, k)
        Distribution of the predictions on the target.

    Returns
    -------
    q : (B, k) target priors, non-negative, summing to 1
    w : (B, k) importance weights ``q / p_s``
    clipped : (B,) bool, True where a negative solution was set to 0
    """
    p_s = joint.sum(axis=1)  # (B, k) source priors (column sums)
    q = np.einsum("bij,bj->bi", np.linalg.pinv(_conditional(joint)), mu_target)  # (B, k)
    clipped = (q < 0).any(axis=1)
    q = np.maximum(q, 0.0)
    total = q.sum(axis=1, keepdims=True)
    q = np.where(total > 0, q / np.where(total > 0, total, 1.0), p_s)  # all mass clipped: fall back to p_s
    return q, q / p_s, clipped


def label_distribution_test(
    codes_source: np.ndarray, codes_target: np.ndarray, n_classes: int
) -> tuple[float, int, float]:
    """Chi-square test of homogeneity of two samples of class codes: ``(chi2, dof, p_value)``.

    Classes absent from both samples are dropped; with fewer than two classes left the samples
    cannot differ and the p-value is 1.
    """
    table = np.stack([np.bincount(codes_source, minlength=n_classes), np.bincount(codes_target, minlength=n_classes)])
    table = table[:, table.sum(axis=0) > 0]  # (2, k')
    if table.shape[1] < 2:
        return 0.0, 0, 1.0
    chi2, p_value, dof, _ = stats.chi2_contingency(table, correction=False)
    return float(chi2), int(dof), float(p_value)


def _conditional(joint: np.ndarray) -> np.ndarray:
    """``P(f = i | y = j)`` from the joint ``(..., k, k)``: each label column divided by its mass."""
    mass = joint.sum(axis=-2, keepdims=True)
    return joint / np.where(mass > 0, mass, 1.0)


def _bootstrap(
    joint_counts: np.ndarray, f_t: np.ndarray, n_boot: int, rng: np.random.Generator
) -> tuple[np.ndarray, ...]:
    """``(q, w)`` replicates ``(B', k)``; replicates that lost a class entirely are dropped."""
    k, n_s, n_t = joint_counts.shape[0], joint_counts.sum(), f_t.size
    joint = rng.multinomial(int(n_s), joint_counts.ravel() / n_s, size=n_boot).reshape(n_boot, k, k) / n_s
    mu_t = rng.multinomial(n_t, np.bincount(f_t, minlength=k) / n_t, size=n_boot) / n_t  # (B, k)
    keep = (joint.sum(axis=1) > 0).all(axis=1)  # (B,) every label column still has mass
    q, w, _ = solve_priors(joint[keep], mu_t[keep])
    return q, w


def _check(
    y_source: np.ndarray, pred_source: np.ndarray, pred_target: np.ndarray, n_classes: int | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Labels and hard predictions as int codes, and the number of classes."""
    preds = []
    for what, pred in (("source predictions", pred_source), ("target predictions", pred_target)):
        pred = np.asarray(pred)
        if pred.ndim == 2:
            n_classes = n_classes or pred.shape[1]
            pred = pred.argmax(axis=1)
        preds.append(check_codes("black_box_shift_estimation", pred, len(pred), what))
    y = check_codes("black_box_shift_estimation", y_source, len(preds[0]), "source label")
    if len(preds[1]) == 0:
        raise InputError("black_box_shift_estimation: expected target predictions, found none; fix: predict the target")
    k = int(n_classes or max(y.max(), preds[0].max(), preds[1].max()) + 1)
    for codes, what in ((y, "source label"), (preds[0], "source prediction"), (preds[1], "target prediction")):
        check_codes("black_box_shift_estimation", codes, len(codes), what, k)
    return y, preds[0], preds[1], k


def _notes(joint: np.ndarray, sigma_min: float, clipped: bool, kept: int, n_boot: int, names: list[str]) -> list[str]:
    notes = []
    if sigma_min < _ILL_CONDITIONED:
        _, _, vt = np.linalg.svd(_conditional(joint))
        a, b = np.argsort(-np.abs(vt[-1]))[:2]  # the classes the null direction mixes most
        notes.append(
            f"the source classifier confuses classes {names[a]!r} and {names[b]!r} (smallest singular value of "
            f"P(prediction | class) is {sigma_min:.3f} < {_ILL_CONDITIONED}): the label-shift weights are unreliable;"
            " use a stronger source model or merge those classes"
        )
    if clipped:
        notes.append("BBSE gave negative target priors, clipped to 0 and renormalised: noise, or not pure label shift")
    if kept < n_boot:
        notes.append(f"{n_boot - kept} of {n_boot} bootstrap replicates lost a class and were left out")
    return notes
