"""Every shift statistic for one pair of samples, as one JSON-able block.

:func:`shift_block` is what ``transferlab shift``, a domain study's summary and the monitor call:
features in, a dict out. It runs the MMD permutation test, the domain classifier (C2ST and proxy
A-distance), and where source labels exist black-box shift estimation, the class-prior and
class-conditional tests, and the Ben-David bound; then the diagnosis
(:mod:`transferlab.metrics.shift_diagnosis`).

Where the caller has no classifier of its own (``proba_source`` / ``proba_target`` absent), a
logistic regression is fitted on a stratified half of the source; the other half is BBSE's
held-out set and the source error of the bound. Target labels, where given, are used to test and
to evaluate (measured priors, class-conditional test, ``lambda`` and the target error of the
bound), never to fit the source classifier.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.metrics.domain_classifier import domain_classifier_test
from transferlab.metrics.label_shift import black_box_shift_estimation, label_distribution_test
from transferlab.metrics.mmd import MMDTestResult, mmd_test
from transferlab.metrics.shift_bound import ShiftBound, ben_david_bound
from transferlab.metrics.shift_diagnosis import diagnose_shift, prior_matched_rows
from transferlab.metrics.shift_inputs import check_codes, check_two_samples, child_seeds, one_blas_thread


def shift_block(
    X_source: np.ndarray,
    X_target: np.ndarray,
    y_source: np.ndarray | None = None,
    y_target: np.ndarray | None = None,
    proba_source: np.ndarray | None = None,
    proba_target: np.ndarray | None = None,
    classes: list[str] | None = None,
    alpha: float = 0.05,
    n_permutations: int = 1000,
    max_samples: int | None = 1000,
    n_boot: int = 1000,
    confidence: float = 0.95,
    random_state: int | None = 0,
) -> dict[str, Any]:
    """Shift tests, label-shift estimate, bound and diagnosis for a source and a target sample.

    Parameters
    ----------
    X_source, X_target : ndarray of shape (n, n_features)
        Features of both samples (the same source model and layer).
    y_source, y_target : ndarray of int, optional
        Class codes over one shared list ``classes``. Without ``y_source`` only the input tests run.
    proba_source, proba_target : ndarray of shape (n, n_classes), optional
        A classifier's probabilities, on *held-out* source examples (not used to train it) and on
        the target. Default: a logistic regression fitted here on half the source.
    classes : list of str, optional
        Class names, for notes.
    alpha : float
        False-alarm level of the whole diagnosis (Bonferroni over its tests).
    n_permutations, max_samples, n_boot, confidence, random_state
        Permutations of the MMD tests, rows per side they keep, bootstrap replicates of BBSE,
        interval level, seed.

    Returns
    -------
    dict
        ``n_source``, ``n_target``, ``mmd``, ``c2st`` (with the proxy A-distance), ``label_shift``,
        ``class_priors``, ``class_conditional``, ``bound``, ``diagnosis``, ``notes``: JSON-able;
        absent parts are None and ``notes`` says why.
    """
    Xs, Xt = check_two_samples("shift_block", X_source, X_target)
    if not 0.0 < alpha < 1.0:
        raise bad_parameter("shift_block", "alpha", alpha, "between 0 and 1")
    _check_proba(proba_source, proba_target, len(Xs), len(Xt))
    run = _Settings(n_permutations, max_samples, n_boot, confidence, child_seeds(random_state, 6))
    mmd = mmd_test(Xs, Xt, n_permutations, max_samples=max_samples, random_state=run.seeds[0])
    c2st = domain_classifier_test(Xs, Xt, max_samples=max_samples, confidence=confidence, random_state=run.seeds[1])
    block: dict[str, Any] = {"n_source": len(Xs), "n_target": len(Xt), "mmd": mmd.to_dict(), "c2st": c2st.to_dict()}
    block |= {"label_shift": None, "class_priors": None, "class_conditional": None, "bound": None, "notes": []}
    labels = _usable_labels(y_source, y_target, len(Xs), len(Xt), classes, block["notes"])
    priors = conditional = None
    if labels is not None:
        ys, yt, names, kept = labels
        heldout = _predictions(Xs, ys, Xt, proba_source, proba_target, kept, run.seeds[2])
        priors, conditional = _label_parts(block, Xs, ys, Xt, yt, names, heldout, run)
    elif y_source is None:
        block["notes"].append("no source labels: covariate and label shift cannot be told apart, and there is no bound")
    target_labelled = labels is not None and labels[1] is not None
    block["diagnosis"] = diagnose_shift(mmd, c2st, priors, conditional, target_labelled, alpha).to_dict()
    return block


def _check_proba(proba_source: np.ndarray | None, proba_target: np.ndarray | None, n_s: int, n_t: int) -> None:
    """Both or neither, 2-D, one row per example of each sample (checked before any test runs)."""
    if (proba_source is None) != (proba_target is None):
        raise InputError("shift_block: give proba_source and proba_target together, found one; fix: pass both")
    for side, proba, n in (("source", proba_source, n_s), ("target", proba_target, n_t)):
        shape = None if proba is None else np.shape(proba)
        if shape is not None and (len(shape) != 2 or shape[0] != n):
            raise InputError(
                f"shift_block: proba_{side} must be (n_{side}, n_classes) with n_{side} = {n}, found shape {shape};"
                f" fix: pass held-out probabilities of the rows of X_{side}"
            )


@dataclass(frozen=True)
class _Settings:
    n_permutations: int
    max_samples: int | None
    n_boot: int
    confidence: float
    seeds: list[int]


def _label_parts(
    block: dict[str, Any],
    Xs: np.ndarray,
    ys: np.ndarray,
    Xt: np.ndarray,
    yt: np.ndarray | None,
    names: list[str],
    heldout: tuple[np.ndarray, np.ndarray, np.ndarray],
    run: _Settings,
) -> tuple[tuple[float, float, str], MMDTestResult | None]:
    """BBSE, the class-prior and class-conditional tests and the bound, written into ``block``."""
    y_held, pred_s, pred_t = heldout
    k, seed = len(names), run.seeds[4]
    bbse = black_box_shift_estimation(y_held, pred_s, pred_t, k, names, run.n_boot, run.confidence, run.seeds[3])
    measured = None if yt is None else (np.bincount(yt, minlength=k) / len(yt)).tolist()
    block["label_shift"] = bbse.to_dict() | {"classes": names, "measured_target_priors": measured}
    block["notes"] += bbse.notes + _bbse_check(block["label_shift"])
    conditional = None
    if yt is not None:
        chi2, _, p_value = label_distribution_test(ys, yt, k)
        priors = (chi2, p_value, "true labels")
        conditional = mmd_test(Xs, Xt, run.n_permutations, None, run.max_samples, ys, yt, seed)
    else:
        priors = (bbse.chi2, bbse.p_value, "predicted labels")
        rows = prior_matched_rows(ys, np.asarray(bbse.target_priors), np.random.default_rng(seed))
        if rows.size >= 2:
            conditional = mmd_test(Xs[rows], Xt, run.n_permutations, None, run.max_samples, random_state=seed)
        else:
            block["notes"].append("too few source examples to match BBSE's target priors: no class-conditional test")
    block["class_priors"] = {"chi2": priors[0], "p_value": priors[1], "based_on": priors[2]}
    block["class_conditional"] = None if conditional is None else conditional.to_dict()
    bound = _bound(block["c2st"], Xs, ys, Xt, yt, heldout, bbse.target_priors, run.confidence, run.seeds[5])
    block["bound"] = bound.to_dict()
    return priors, conditional


def _bbse_check(label_shift: dict[str, Any]) -> list[str]:
    """A note when BBSE's intervals miss the measured target priors: its assumption fails on these data."""
    measured = label_shift["measured_target_priors"]
    if measured is None:
        return []
    lo, hi = label_shift["target_priors_lo"], label_shift["target_priors_hi"]
    missed = [c for c, m, a, b in zip(label_shift["classes"], measured, lo, hi, strict=True) if not a <= m <= b]
    if not missed:
        return []
    return [
        f"BBSE's intervals miss the measured target priors of {missed}: its label-shift assumption (p(x | y)"
        " unchanged) fails on these data, so trust the measured priors"
    ]


def _usable_labels(
    y_source: np.ndarray | None,
    y_target: np.ndarray | None,
    n_source: int,
    n_target: int,
    classes: list[str] | None,
    notes: list[str],
) -> tuple[np.ndarray, np.ndarray | None, list[str], np.ndarray] | None:
    """Labels re-coded over the source's classes, their names and original codes; None (and a note) if unusable."""
    if y_source is None:
        return None
    ys = check_codes("shift_block", y_source, n_source, "source label")
    yt = None if y_target is None else check_codes("shift_block", y_target, n_target, "target label")
    names = list(classes) if classes is not None else [str(j) for j in range(int(ys.max()) + 1)]
    kept = np.unique(ys)
    if yt is not None and not np.isin(yt, kept).all():
        notes.append(_label_sets_note(yt, kept, names))
        return None
    counts = np.bincount(ys)[kept]
    if counts.min() < 4:
        scarce = names[kept[counts.argmin()]]
        notes.append(f"class {scarce!r} has {counts.min()} source examples, 4 needed: no label-shift estimate or bound")
        return None
    recode = np.full(max(int(ys.max()), int(yt.max()) if yt is not None else 0) + 1, -1)
    recode[kept] = np.arange(kept.size)
    return recode[ys], None if yt is None else recode[yt], [names[j] for j in kept], kept


def _label_sets_note(yt: np.ndarray, kept: np.ndarray, names: list[str]) -> str:
    """Which labels each side lacks, and what is skipped because of it."""

    def named(codes: np.ndarray) -> list[str]:
        return sorted(names[j] if j < len(names) else str(j) for j in codes)

    only_target, only_source = named(np.setdiff1d(yt, kept)), named(np.setdiff1d(kept, yt))
    missing = f" and source labels {only_source} none in the target" if only_source else ""
    return (
        f"label sets differ: target labels {only_target} have no source examples{missing}:"
        " no label-shift estimate or bound, and covariate and label shift cannot be told apart"
    )


def _predictions(
    Xs: np.ndarray,
    ys: np.ndarray,
    Xt: np.ndarray,
    proba_source: np.ndarray | None,
    proba_target: np.ndarray | None,
    kept: np.ndarray,
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(held-out source labels, predictions on them, predictions on the target), as re-coded class codes.

    The caller's probabilities have one column per class of ``classes``; only the columns of the
    classes the source has are compared (BBSE solves one equation per such class).
    """
    if proba_source is not None and proba_target is not None:
        p_s, p_t = np.asarray(proba_source)[:, kept], np.asarray(proba_target)[:, kept]
        return ys, p_s.argmax(axis=1), p_t.argmax(axis=1)
    from sklearn.model_selection import train_test_split

    fit_rows, held_rows = train_test_split(np.arange(len(ys)), test_size=0.5, stratify=ys, random_state=seed)
    model = _fit_logistic(Xs[fit_rows], ys[fit_rows])
    return ys[held_rows], model.predict(Xs[held_rows]), model.predict(Xt)


def _bound(
    c2st: dict[str, Any],
    Xs: np.ndarray,
    ys: np.ndarray,
    Xt: np.ndarray,
    yt: np.ndarray | None,
    heldout: tuple[np.ndarray, np.ndarray, np.ndarray],
    bbse_priors: list[float],
    confidence: float,
    seed: int,
) -> ShiftBound:
    """The Ben-David bound of the source classifier, with lambda and the target error where labels exist."""
    y_held, pred_s, pred_t = heldout
    source_error = float(np.mean(pred_s != y_held))
    pad = (c2st["pad"], c2st["pad_lo"], c2st["pad_hi"])
    if yt is None:
        chance, basis = 1.0 - max(bbse_priors), "most frequent target class, BBSE's estimate"
        return ben_david_bound(source_error, len(y_held), pad, chance, basis, confidence=confidence)
    chance = 1.0 - np.bincount(yt).max() / len(yt)
    target = (float(np.mean(pred_t != yt)), len(yt))
    joint = _joint_errors(Xs, ys, Xt, yt, seed)
    basis = "most frequent target class"
    return ben_david_bound(source_error, len(y_held), pad, chance, basis, joint, target, confidence)


def _joint_errors(
    Xs: np.ndarray, ys: np.ndarray, Xt: np.ndarray, yt: np.ndarray, seed: int
) -> tuple[float, int, float, int]:
    """Held-out errors on each domain of one classifier trained on both labelled domains (2-fold cross-fit).

    Each domain weighs the same in the fit, since lambda adds the two errors with equal weight.
    """
    from sklearn.model_selection import StratifiedKFold

    Z, y = np.vstack([Xs, Xt]), np.r_[ys, yt]
    domain = np.r_[np.zeros(len(ys), np.int64), np.ones(len(yt), np.int64)]
    weight = np.where(domain == 0, 0.5 / len(ys), 0.5 / len(yt)) * len(y)
    strata = domain * (y.max() + 1) + y  # (domain, class) cells
    counts = np.bincount(strata)
    if counts[counts > 0].min() < 2:
        strata = domain  # a class with one example in a domain: stratify by domain only
    wrong = np.zeros(len(y), bool)
    for fit, held in StratifiedKFold(2, shuffle=True, random_state=seed).split(Z, strata):
        wrong[held] = _fit_logistic(Z[fit], y[fit], weight[fit]).predict(Z[held]) != y[held]
    return float(wrong[domain == 0].mean()), len(ys), float(wrong[domain == 1].mean()), len(yt)


def _fit_logistic(X: np.ndarray, y: np.ndarray, sample_weight: np.ndarray | None = None) -> Any:
    """A standardised logistic regression fitted on one BLAS thread (see ``one_blas_thread``)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=1000))
    with one_blas_thread(), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y, logisticregression__sample_weight=sample_weight)
    return model
