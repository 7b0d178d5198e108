"""Unsupervised validators: choosing an adaptation method without target labels.

Much of the domain-adaptation literature tunes on target test labels. These scores use only
labelled *source* validation examples and unlabelled *target* inputs; higher is better for
every one of them, so a pick is always the arg-max:

``source-risk``  minus the mean loss on source validation: the naive choice, the reference
                 the others must beat (it ignores the shift altogether).
``iwv``          importance-weighted validation (Sugiyama, Krauledat & Mueller 2007): minus the
                 source loss weighted by ``p_t(x) / p_s(x)``, an unbiased estimate of the
                 target risk under covariate shift.
``dev``          deep embedded validation (You et al. 2019): the same weighted risk with a
                 control variate (the weights have known mean 1), which lowers its variance.
``snd``          soft neighbourhood density (Saito et al. 2021): how tightly the target
                 predictions cluster, from target probabilities alone.
``entropy``      minus the mean entropy of the target predictions (Morerio et al. 2018 use it
                 to tune): confident is taken as good.

SND and entropy reward confidence, so a model that collapses onto one class scores well on
both; the weighted risks are unbiased only under covariate shift and get noisy when the weights
are extreme (see the effective sample size). Hence the report measures, on the data, how often
each validator's pick matches the best by target labels and what its pick costs.

The losses are per-example cross-entropies for all three risks, so ``iwv`` and ``dev`` differ
only by the control variate. skada implements IWV, DEV, SND and entropy as scorers bound to its
estimator API (they refit a domain classifier on a fresh random split at every call); here they
are pure functions of arrays so the importance weights are computed once per cell and shared by
every candidate, and the candidates differ only in their predictions. ``tests/test_adapt.py``
checks SND against skada's scorer on the same probabilities.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError

if TYPE_CHECKING:
    from transferlab.strategies.base import Examples, Strategy

VALIDATORS = ("source-risk", "iwv", "dev", "snd", "entropy")
MAX_TARGET_EXAMPLES = 2000  # SND is quadratic in the target examples: a seeded subsample beyond this


def cross_entropy(proba: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-example ``-log p(y | x)`` ``(n,)``, probabilities floored at 1e-12."""
    proba = np.asarray(proba, dtype=np.float64)
    return np.asarray(-np.log(np.maximum(proba[np.arange(len(labels)), np.asarray(labels)], 1e-12)))


def source_risk_score(losses: np.ndarray) -> float:
    """Minus the mean source-validation loss (no correction for the shift)."""
    return -float(np.mean(losses))


def importance_weighted_score(losses: np.ndarray, weights: np.ndarray) -> float:
    """Minus the importance-weighted source loss, weights self-normalised (Sugiyama et al. 2007).

    ``sum(w * loss) / sum(w)`` estimates the target risk when ``w = p_t(x) / p_s(x)``.
    Sugiyama, Krauledat & Mueller (2007), "Covariate shift adaptation by importance weighted
    cross validation", JMLR 8.
    """
    losses, weights = np.asarray(losses, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    return -float((weights * losses).sum() / weights.sum())


def dev_score(losses: np.ndarray, weights: np.ndarray) -> float:
    """Minus the deep-embedded-validation risk: the weighted loss with a control variate.

    With ``L = w * loss``, ``eta = -Cov(L, w) / Var(w)`` and the risk
    ``mean(L) + eta * mean(w) - eta``: the weights' known expectation under the source (1)
    corrects the weighted mean. So the weights must be the estimated ratios, not rescaled to mean
    1 (``domain_classifier_weights(..., normalise=False)``): rescaled, ``mean(w) - 1`` is 0 and
    DEV is the plain weighted mean.
    You, Wang, Long & Jordan (2019), "Towards accurate model selection in deep unsupervised
    domain adaptation", ICML.
    """
    losses, weights = np.asarray(losses, dtype=np.float64), np.asarray(weights, dtype=np.float64)
    weighted = weights * losses  # (n,)
    var_w = float(np.var(weights, ddof=1)) if len(weights) > 1 else 0.0
    eta = -float(np.cov(weighted, weights, ddof=1)[0, 1]) / var_w if var_w > 0 else 0.0
    return -float(weighted.mean() + eta * weights.mean() - eta)


def snd_score(proba_target: np.ndarray, temperature: float = 0.05) -> float:
    """Soft neighbourhood density of the target predictions (higher: denser neighbourhoods).

    Rows are L2-normalised probability vectors; each example's similarities to the others,
    divided by ``temperature`` and soft-maxed (itself excluded), form a distribution whose
    entropy is averaged. Saito, Kim, Teterwak, Sclaroff, Darrell & Saenko (2021), "Tune it the
    right way: unsupervised validation of domain adaptation via soft neighborhood density", ICCV.
    """
    proba = np.asarray(proba_target, dtype=np.float64)
    if len(proba) < 2:
        return float("nan")  # no neighbours to be dense among
    unit = proba / np.maximum(np.linalg.norm(proba, axis=1, keepdims=True), 1e-12)
    similarity = unit @ unit.T / temperature  # (n, n)
    np.fill_diagonal(similarity, -np.inf)  # a point is not its own neighbour
    similarity -= similarity.max(axis=1, keepdims=True)
    neighbours = np.exp(similarity)
    neighbours /= neighbours.sum(axis=1, keepdims=True)
    return float(-(neighbours * np.log(np.maximum(neighbours, 1e-300))).sum(axis=1).mean())


def entropy_score(proba_target: np.ndarray) -> float:
    """Minus the mean Shannon entropy (nats) of the target predictions."""
    proba = np.asarray(proba_target, dtype=np.float64)
    return float((proba * np.log(np.maximum(proba, 1e-300))).sum(axis=1).mean())


def validator_scores(
    strategy: Strategy, source_val: Examples, target: Examples, weights: np.ndarray | None = None
) -> dict[str, float]:
    """Every validator's score of a fitted ``strategy`` (higher is better).

    Parameters
    ----------
    strategy : fitted; ``source_val`` is predicted with ``predict_proba_source`` (a domain-aware
        method maps source inputs differently, e.g. CORAL's re-colouring), ``target`` with
        ``predict_proba``.
    source_val : labelled source examples the strategy was not fitted on.
    target : unlabelled target inputs (``labels`` is ignored: target labels are never read).
    weights : ``(len(source_val),)`` estimated density ratios of the source examples, computed
        once per cell (``domain_classifier_weights(X_val, X_target, normalise=False)`` on the
        cached embeddings) and shared by every candidate; not rescaled to mean 1, or DEV's
        control variate vanishes. When ``None`` they are computed here, which needs feature inputs.
    """
    if source_val.labels is None or len(source_val) < 2:
        raise InputError("validator_scores needs at least 2 labelled source validation examples")
    if weights is None:
        weights = _weights_from_inputs(source_val.inputs, target.inputs)
    if len(weights) != len(source_val):
        raise InputError(f"expected one importance weight per source example ({len(source_val)}), got {len(weights)}")
    losses = cross_entropy(strategy.predict_proba_source(source_val.inputs), source_val.labels)
    proba_target = strategy.predict_proba(_target_subsample(target.inputs))
    return {
        "source-risk": source_risk_score(losses),
        "iwv": importance_weighted_score(losses, weights),
        "dev": dev_score(losses, weights),
        "snd": snd_score(proba_target),
        "entropy": entropy_score(proba_target),
    }


def _weights_from_inputs(source_inputs: Any, target_inputs: Any) -> np.ndarray:
    from transferlab.metrics.density_ratio import domain_classifier_weights

    X_source, X_target = np.asarray(source_inputs), np.asarray(target_inputs)
    if X_source.ndim != 2 or not np.issubdtype(X_source.dtype, np.number):
        raise InputError(
            "validator_scores computes importance weights from feature inputs (n, d); for a strategy on raw"
            " inputs pass weights= computed on the cached embeddings (domain_classifier_weights)"
        )
    return domain_classifier_weights(X_source, X_target, normalise=False)


def _target_subsample(inputs: Any) -> Any:
    if len(inputs) <= MAX_TARGET_EXAMPLES:
        return inputs
    keep = np.sort(np.random.default_rng(0).choice(len(inputs), MAX_TARGET_EXAMPLES, replace=False))
    return [inputs[i] for i in keep] if isinstance(inputs, list) else np.asarray(inputs)[keep]


def validator_picks(scores: Mapping[str, Mapping[str, float]]) -> dict[str, str]:
    """Each validator's pick among candidates: ``{candidate: {validator: score}}`` -> ``{validator: candidate}``.

    Ties go to the first candidate in order, so list the simplest (source-only) first.
    """
    names = list(scores)
    validators = [v for v in VALIDATORS if all(v in scores[n] for n in names)]

    def rank(name: str, validator: str) -> tuple[float, int]:
        return float(np.nan_to_num(scores[name][validator], nan=-np.inf)), -names.index(name)

    return {v: max(names, key=lambda n: rank(n, v)) for v in validators}


def pick_regret(picks: Mapping[str, str], target_accuracy: Mapping[str, float]) -> dict[str, dict[str, Any]]:
    """For each validator: its pick, whether it is the best by target labels, and the accuracy it loses.

    ``target_accuracy`` comes from the held-out target test labels, used here to *evaluate* the
    validators, never to choose.
    """
    best = max(target_accuracy.values())
    return {
        v: {"pick": c, "is_best": target_accuracy[c] >= best, "accuracy_lost": float(best - target_accuracy[c])}
        for v, c in picks.items()
    }
