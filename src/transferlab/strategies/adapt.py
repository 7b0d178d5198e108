"""Domain adaptation on frozen features: the shared recipe, ``source-only``, ``coral``, ``subspace-alignment``.

``importance-weighting`` and ``self-training`` follow the same recipe in
:mod:`transferlab.strategies.adapt_samples`.

The setting: ``fit(train, unlabeled)`` gets the labelled *source* budget (embeddings
``(n_s, d)``) and the unlabelled *target* pool (``(n_t, d)``); ``predict_proba`` gets target
inputs and ``predict_proba_source`` source ones. Target labels never reach ``fit``. Every method
ends in the project's probe (:func:`~transferlab.strategies.frozen.fit_logistic`: standardise,
logistic regression, C by stratified cross-validation inside the budget), so each is tuned
exactly as seriously as ``source-only`` and a gain belongs to the adaptation, not to a
better-tuned classifier.

What comes from skada and what is ours:

* ``subspace-alignment`` wraps skada's ``SubspaceAlignmentAdapter``: it does exactly the
  published transform (checked on a rotated copy) for the cost of two PCAs.
* ``coral`` is ours, a few lines: skada's ``CORALAdapter`` turns a near-constant embedding
  dimension into NaN at small budgets (see :class:`CORAL`); it serves as the tests' reference.
* ``importance-weighting`` is ours, because skada 0.6's discriminator weights point the wrong
  way (see :mod:`transferlab.metrics.density_ratio`); its KMM solver is used for ``estimator="kmm"``.
* ``self-training`` is ours: skada's self-labelling method is an SVM (DASVM), and
  scikit-learn's ``SelfTrainingClassifier`` keeps every pseudo-label it ever assigned and
  cross-validates nothing. Here C is chosen once on the true source labels (cross-validating on
  pseudo-labels would reward agreeing with them), and the pseudo-labels are chosen afresh every
  round, class by class, so one easy class cannot take over (Zou et al. 2018).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.strategies.base import (
    Examples,
    Strategy,
    check_int_range,
    check_positive,
    full_proba,
    register_strategy,
)
from transferlab.strategies.frozen import LinearProbe, fit_logistic

C_GRID = (0.001, 0.01, 0.1, 1.0, 10.0)


def adaptation_inputs(owner: str, train: Examples, unlabeled: Examples | None) -> tuple[np.ndarray, np.ndarray]:
    """The source features ``(n_s, d)`` and the target pool's ``(n_t, d)``, checked; never target labels."""
    if unlabeled is None or len(unlabeled) == 0:
        raise InputError(
            f"{owner} adapts to a target domain and needs its unlabelled inputs, but none were given;"
            " run it in a domain study (task: domain_column with source_domains / target_domains, or"
            " target_dataset), or use source-only"
        )
    X_source, X_target = np.asarray(train.inputs, dtype=np.float64), np.asarray(unlabeled.inputs, dtype=np.float64)
    if X_source.ndim != 2 or X_target.ndim != 2 or X_source.shape[1] != X_target.shape[1]:
        raise InputError(
            f"{owner} needs source and target features with the same columns; got shapes"
            f" {X_source.shape} and {X_target.shape}. Embed both domains with the same source."
        )
    return X_source, X_target


def domain_labels(n_source: int, n_target: int) -> np.ndarray:
    """skada's ``sample_domain``: positive for source examples, negative for target ones."""
    return np.r_[np.ones(n_source, dtype=int), -np.ones(n_target, dtype=int)]


@register_strategy("source-only")
class SourceOnly(LinearProbe):
    """The linear probe trained on the labelled source domain alone: what every adaptation must beat.

    Identical to ``linear-probe``; its own name marks it as the no-adaptation arm of a domain
    study (it is transfer from the pretrained source, so not a no-transfer baseline).
    """


class FeatureAdaptation(Strategy):
    """Shared recipe: learn a map of each domain from (source budget, target pool), then the probe.

    Subclasses implement ``_align`` (learn the map; return the mapped source features and optional
    sample weights) and, when the map is not the identity, ``transform`` (apply it to new inputs of one
    domain: the features the probe sees).
    """

    uses_unlabeled_target = True

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> FeatureAdaptation:
        self.check(source)
        X_train, X_target = adaptation_inputs(self.name, train, unlabeled)
        labels = np.asarray(train.labels)
        self.n_classes_ = len(train.classes)
        # Labelled target rows (a domain study's target budget, marked in train.domains) are target
        # examples: they join the target side of the alignment and reach the probe mapped as target
        # inputs, at the mean source weight (1) when the source rows are weighted.
        is_target = np.asarray(train.domains) == "target" if train.domains is not None else np.zeros(len(labels), bool)
        X_source, X_labelled = X_train[~is_target], X_train[is_target]
        Z, weights = self._align(X_source, labels[~is_target], np.vstack([X_target, X_labelled]))
        if is_target.any():
            Z = np.vstack([Z, self.transform(X_labelled, "target")])
            weights = None if weights is None else np.r_[weights, np.ones(len(X_labelled))]
        y = np.r_[labels[~is_target], labels[is_target]]
        self.model_ = fit_logistic(Z, y, tuple(self.C_grid), self.random_state, sample_weight=weights)
        self.n_features_ = int(Z.shape[1])
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        return self._proba(self.transform(inputs, "target"))

    def predict_proba_source(self, inputs: Any) -> np.ndarray:
        return self._proba(self.transform(inputs, "source"))

    def trainable_parameters(self) -> int:
        return (self.n_features_ + 1) * self.n_classes_ if hasattr(self, "model_") else 0

    def check(self, source: Any = None) -> None:
        grid = self.C_grid
        if isinstance(grid, str | bytes) or not hasattr(grid, "__len__") or not len(grid):
            raise bad_parameter(self.name, "C_grid", grid, "a non-empty list of numbers > 0")
        check_positive(self.name, **{f"C_grid[{i}]": c for i, c in enumerate(grid)})

    def _proba(self, Z: np.ndarray) -> np.ndarray:
        return full_proba(self.model_.predict_proba(Z), self.model_.classes_, self.n_classes_)

    def _align(
        self, X_source: np.ndarray, labels: np.ndarray, X_target: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def transform(self, inputs: Any, domain: str = "target") -> np.ndarray:
        """The features the probe sees for ``inputs`` of ``domain`` ("source" or "target")."""
        return np.asarray(inputs, dtype=np.float64)


class SkadaAlignment(FeatureAdaptation):
    """A skada adapter fitted on both domains and applied per domain (``sample_domain`` sign)."""

    def _fit_adapter(self, adapter: Any, X_source: np.ndarray, X_target: np.ndarray) -> np.ndarray:
        sample_domain = domain_labels(len(X_source), len(X_target))
        self.adapter_ = adapter.fit(np.vstack([X_source, X_target]), sample_domain=sample_domain)
        return self.transform(X_source, "source")

    def transform(self, inputs: Any, domain: str = "target") -> np.ndarray:
        X = np.asarray(inputs, dtype=np.float64)
        sign = 1 if domain == "source" else -1
        return self.adapter_.transform(X, sample_domain=np.full(len(X), sign), allow_source=True)


def shrunk_covariance(X: np.ndarray, shrinkage: str | float) -> np.ndarray:
    """Covariance ``(d, d)`` of ``X`` shrunk toward ``(trace / d) I``; ``"auto"``: Ledoit-Wolf's coefficient."""
    from sklearn.covariance import empirical_covariance, ledoit_wolf
    from sklearn.covariance import shrunk_covariance as shrink

    return ledoit_wolf(X)[0] if shrinkage == "auto" else shrink(empirical_covariance(X), float(shrinkage))


def spd_power(C: np.ndarray, power: float) -> np.ndarray:
    """``C ** power`` of a symmetric positive semi-definite matrix, eigenvalues floored at 1e-12 of the largest."""
    values, vectors = np.linalg.eigh(C)
    values = np.maximum(values, 1e-12 * values.max())
    return (vectors * values**power) @ vectors.T


def coral_recolouring(X_source: np.ndarray, X_target: np.ndarray, shrinkage: str | float) -> np.ndarray:
    """``C_s^{-1/2} C_t^{1/2}`` ``(d, d)``: centred source rows times it have the target's covariance.

    Sun, Feng & Saenko (2016), "Return of frustratingly easy domain adaptation", AAAI.
    """
    return spd_power(shrunk_covariance(X_source, shrinkage), -0.5) @ spd_power(
        shrunk_covariance(X_target, shrinkage), 0.5
    )


@register_strategy("coral")
class CORAL(FeatureAdaptation):
    """Correlation alignment (Sun, Feng & Saenko 2016): source features whitened, re-coloured by the target's.

    Each domain is centred on its own mean, centred source features are multiplied by
    ``C_s^{-1/2} C_t^{1/2}`` (:func:`coral_recolouring`), and the probe is trained on them.

    Parameters
    ----------
    shrinkage : covariance shrinkage toward ``(trace / d) I``: ``"auto"`` (Ledoit-Wolf, the default,
        estimated per domain: with a budget of 10 examples in 384 dimensions the plain covariance is
        singular and cannot be whitened) or a number in [0, 1] for both (0 only when the budget
        is far larger than the dimension). The paper adds the identity instead, a choice tied
        to the features' scale.
    C_grid : the probe's regularisation grid.

    Why not skada's ``CORALAdapter``: it computes the same transform, but its Ledoit-Wolf option
    standardises every feature first, so a near-constant embedding dimension (minilm-l6 has one:
    its spread over a dozen texts is 1e-33) keeps a zero eigenvalue and the whitening divides by
    it (NaN). Shrinking the raw covariance toward a multiple of the identity is positive definite
    whatever the features. With a number for ``shrinkage`` the two agree (checked in the tests).
    """

    def __init__(
        self, shrinkage: str | float = "auto", C_grid: tuple[float, ...] = C_GRID, random_state: int | None = None
    ):
        self.shrinkage = shrinkage
        self.C_grid = C_grid
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        super().check(source)
        value = self.shrinkage
        if value != "auto" and not (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1):
            raise bad_parameter(self.name, "shrinkage", value, "'auto' (Ledoit-Wolf) or a number in [0, 1]")

    def _align(self, X_source: np.ndarray, labels: np.ndarray, X_target: np.ndarray) -> tuple[np.ndarray, None]:
        self.mean_source_, self.mean_target_ = X_source.mean(axis=0), X_target.mean(axis=0)  # (d,), (d,)
        self.recolouring_ = coral_recolouring(X_source, X_target, self.shrinkage)  # (d, d)
        return self.transform(X_source, "source"), None

    def transform(self, inputs: Any, domain: str = "target") -> np.ndarray:
        X = np.asarray(inputs, dtype=np.float64)
        if domain == "source":
            return (X - self.mean_source_) @ self.recolouring_
        return X - self.mean_target_


@register_strategy("subspace-alignment")
class SubspaceAlignment(SkadaAlignment):
    """Subspace alignment (Fernando et al. 2013): the source PCA basis mapped onto the target's.

    Each domain is centred and projected on its top ``n_components`` principal directions
    (``P_s``, ``P_t``: rows); source coordinates are then multiplied by ``M = P_s P_t^T``, the
    cosines between the two bases, which expresses them in the target basis. What that corrects:
    a tilt of the principal subspace, each source direction mapped onto the target direction it
    overlaps with, scaled by their cosine (a rotated copy is recovered along its top direction
    up to that factor, see the tests). What it does not: a rotation within the subspace beyond
    90 degrees (the cosine changes sign), or, with ``n_components = d``, anything beyond centring
    each domain (``M`` is then orthogonal and both domains are merely written in the target
    basis). The source
    basis comes from the labelled budget, so ``n_components`` is capped at ``n_s - 1`` (the
    directions ``n_s`` centred examples span), and at the target pool's size and the dimension.

    Fernando, Habrard, Sebban & Tuytelaars (2013), "Unsupervised visual domain adaptation using
    subspace alignment", ICCV.
    """

    def __init__(self, n_components: int = 32, C_grid: tuple[float, ...] = C_GRID, random_state: int | None = None):
        self.n_components = n_components
        self.C_grid = C_grid
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        super().check(source)
        check_int_range(self.name, "n_components", self.n_components, 1, 100_000)

    def _align(self, X_source: np.ndarray, labels: np.ndarray, X_target: np.ndarray) -> tuple[np.ndarray, None]:
        from transferlab.skada_compat import import_skada

        self.n_components_ = max(1, min(self.n_components, len(X_source) - 1, len(X_target), X_source.shape[1]))
        adapter = import_skada().SubspaceAlignmentAdapter(
            n_components=self.n_components_, random_state=self.random_state
        )
        return self._fit_adapter(adapter, X_source, X_target), None
