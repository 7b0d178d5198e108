"""Adaptation by choosing what the probe trains on: ``importance-weighting`` and ``self-training``.

The features stay as they are; importance weighting re-weights the source examples towards the
target's density, self-training adds confidently pseudo-labelled target examples. Both end in
the same probe as ``source-only`` (see :mod:`transferlab.strategies.adapt` for the recipe and
for why these two are written here rather than taken from skada).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from transferlab.errors import bad_parameter
from transferlab.strategies.adapt import C_GRID, FeatureAdaptation, adaptation_inputs
from transferlab.strategies.base import Examples, check_int_range, full_proba, register_strategy
from transferlab.strategies.frozen import fit_logistic

ESTIMATORS = ("classifier", "kmm")


@register_strategy("importance-weighting")
class ImportanceWeighting(FeatureAdaptation):
    """The probe trained on source examples weighted by ``p_t(x) / p_s(x)`` (covariate shift).

    Under covariate shift (``p(y | x)`` shared, ``p(x)`` moved) the weighted source risk is an
    unbiased estimate of the target risk (Shimodaira 2000); the weights also enter the probe's
    cross-validation scores, which makes its choice of C importance-weighted CV (Sugiyama et al.
    2007).

    Parameters
    ----------
    estimator : ``"classifier"`` (a cross-fitted logistic domain classifier, the default) or
        ``"kmm"`` (kernel mean matching); see :mod:`transferlab.metrics.density_ratio`.
    max_weight : weights are capped at this multiple of their mean: a few huge weights would
        leave an effective sample of one or two examples.
    C_grid : the probe's regularisation grid.

    After ``fit``: ``weights_`` (mean 1) and ``effective_sample_size_`` (Kish), worth reading
    beside the result: an effective size far below the budget means the domains barely overlap.

    Shimodaira (2000), "Improving predictive inference under covariate shift by weighting the
    log-likelihood function", J. Stat. Planning and Inference 90.
    """

    def __init__(
        self,
        estimator: str = "classifier",
        max_weight: float = 20.0,
        C_grid: tuple[float, ...] = C_GRID,
        random_state: int | None = None,
    ):
        self.estimator = estimator
        self.max_weight = max_weight
        self.C_grid = C_grid
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        super().check(source)
        if self.estimator not in ESTIMATORS:
            raise bad_parameter(self.name, "estimator", self.estimator, f"one of {', '.join(ESTIMATORS)}")
        value = self.max_weight
        if isinstance(value, bool) or not isinstance(value, int | float) or not value >= 1:
            raise bad_parameter(self.name, "max_weight", value, "a number >= 1 (a multiple of the mean weight)")

    def _align(self, X_source: np.ndarray, labels: np.ndarray, X_target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        from transferlab.metrics.density_ratio import (
            domain_classifier_weights,
            effective_sample_size,
            kmm_weights,
            truncate_weights,
        )

        seed = int(self.random_state or 0)
        if self.estimator == "kmm":
            raw = kmm_weights(X_source, X_target, random_state=seed)
        else:
            raw = domain_classifier_weights(X_source, X_target, random_state=seed)
        self.weights_ = truncate_weights(raw, float(self.max_weight))  # (n_s,)
        self.effective_sample_size_ = effective_sample_size(self.weights_)
        return X_source, self.weights_


def select_pseudo_labels(proba: np.ndarray, threshold: float, portion: float) -> tuple[np.ndarray, np.ndarray]:
    """Class-balanced confident pseudo-labels: ``(index, label)`` of the target examples to keep.

    Within each predicted class, the most confident ``portion`` of its members are kept, and of
    those only the ones whose confidence reaches ``threshold``. A per-class share (not one global
    cut) stops the easiest class from taking every pseudo-label (Zou, Yu, Kumar & Wang 2018,
    "Unsupervised domain adaptation for semantic segmentation via class-balanced self-training", ECCV).
    """
    predicted, confidence = proba.argmax(axis=1), proba.max(axis=1)  # (n,), (n,)
    keep = []
    for c in np.unique(predicted):
        members = np.flatnonzero(predicted == c)
        top = members[np.argsort(-confidence[members], kind="stable")[: math.ceil(portion * len(members))]]
        keep.append(top[confidence[top] >= threshold])
    index = np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
    return index, predicted[index]


@register_strategy("self-training")
class SelfTraining(FeatureAdaptation):
    """Self-training on the target pool: the probe re-fitted on source labels plus confident pseudo-labels.

    Round 0 is ``source-only`` (C chosen by cross-validation on the source labels). Each of
    ``rounds`` rounds predicts the target pool, keeps class-balanced confident pseudo-labels
    (:func:`select_pseudo_labels`, with the kept share growing linearly to ``portion``) and
    re-fits the probe at the same C on the source budget plus those examples.

    Parameters
    ----------
    threshold : the lowest confidence a pseudo-label may have.
    rounds : pseudo-labelling rounds (0 = source-only).
    portion : share of each predicted class kept in the last round.
    C_grid : the probe's regularisation grid (searched once, on the source).

    After ``fit``: ``n_pseudo_labels_``, the number kept in each round.
    """

    def __init__(
        self,
        threshold: float = 0.8,
        rounds: int = 3,
        portion: float = 0.5,
        C_grid: tuple[float, ...] = C_GRID,
        random_state: int | None = None,
    ):
        self.threshold = threshold
        self.rounds = rounds
        self.portion = portion
        self.C_grid = C_grid
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        super().check(source)
        for param in ("threshold", "portion"):
            value = getattr(self, param)
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 1:
                raise bad_parameter(self.name, param, value, "a number in (0, 1]")
        check_int_range(self.name, "rounds", self.rounds, 0, 100)

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> SelfTraining:
        self.check(source)
        X_source, X_target = adaptation_inputs(self.name, train, unlabeled)
        labels = np.asarray(train.labels)
        self.n_classes_, self.n_features_ = len(train.classes), int(X_source.shape[1])
        self.model_ = fit_logistic(X_source, labels, tuple(self.C_grid), self.random_state)
        C = probe_regularisation(self.model_)
        self.n_pseudo_labels_ = []
        for r in range(1, self.rounds + 1):
            proba = full_proba(self.model_.predict_proba(X_target), self.model_.classes_, self.n_classes_)
            index, pseudo = select_pseudo_labels(proba, float(self.threshold), float(self.portion) * r / self.rounds)
            X, y = np.vstack([X_source, X_target[index]]), np.r_[labels, pseudo]
            self.model_ = fit_logistic(X, y, (C,), self.random_state)
            self.n_pseudo_labels_.append(len(index))
        return self


def probe_regularisation(probe: Any) -> float:
    """The regularisation a fitted ``fit_logistic`` pipeline settled on."""
    model = probe[-1]
    return float(np.ravel(model.C_)[0]) if hasattr(model, "C_") else float(model.C)
