"""Strategies on frozen (cached) embeddings: the cheap rungs of the ladder.

All four receive the source's embeddings ``(n, d)``; none changes the source.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:  # scikit-learn is imported where a model is fitted: listing strategies stays light
    from sklearn.pipeline import Pipeline


def fit_logistic(
    X: Any,
    y: np.ndarray,
    C_grid: tuple[float, ...],
    random_state: int | None,
    scale: bool = True,
    max_folds: int = 5,
    sample_weight: np.ndarray | None = None,
) -> Pipeline:
    """Standardise, then logistic regression with C chosen by stratified CV inside the budget.

    The folds come from the labelled budget only (never the test set). When a class has a
    single example no fold can hold it out, so the middle of the grid is used instead.
    ``sample_weight`` weights the fit and the CV scores alike (importance-weighted CV,
    Sugiyama et al. 2007, when the weights are density ratios).
    """
    from threadpoolctl import threadpool_limits

    # A budget-sized fit is many tiny BLAS calls: threads only add synchronisation, and on a busy
    # 2-core machine spinning OpenBLAS threads made one 100-example fit 40x slower (96 s vs 2.4 s).
    with warnings.catch_warnings(), threadpool_limits(1):
        # scikit-learn 1.8 announces attribute and default changes of LogisticRegressionCV that
        # do not affect how it is used here.
        warnings.simplefilter("ignore", FutureWarning)
        return _fit_logistic(X, y, C_grid, random_state, scale, max_folds, sample_weight)


def _fit_logistic(
    X: Any,
    y: np.ndarray,
    C_grid: tuple[float, ...],
    random_state: int | None,
    scale: bool,
    max_folds: int,
    sample_weight: np.ndarray | None = None,
) -> Pipeline:
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    folds = min(max_folds, int(np.bincount(y).min()) if len(y) else 0)
    if folds >= 2 and len(C_grid) > 1:
        cv = StratifiedKFold(folds, shuffle=True, random_state=random_state)
        model = LogisticRegressionCV(Cs=list(C_grid), cv=cv, scoring="neg_log_loss", max_iter=300)
    else:
        model = LogisticRegression(C=C_grid[len(C_grid) // 2], max_iter=300)
    steps = [StandardScaler(), model] if scale else [model]
    pipeline = make_pipeline(*steps)
    if sample_weight is None:
        return pipeline.fit(X, y)
    return pipeline.fit(X, y, **{f"{pipeline.steps[-1][0]}__sample_weight": sample_weight})


def softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable: (n, C) -> (n, C)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def l2_normalise(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.maximum(norms, 1e-12)


@register_strategy("linear-probe")
class LinearProbe(Strategy):
    """Logistic regression on frozen embeddings, regularisation chosen by CV within the budget."""

    def __init__(self, C_grid: tuple[float, ...] = (0.001, 0.01, 0.1, 1.0, 10.0), random_state: int | None = None):
        self.C_grid = C_grid
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        if isinstance(self.C_grid, str | bytes) or not hasattr(self.C_grid, "__len__") or not len(self.C_grid):
            raise bad_parameter(self.name, "C_grid", self.C_grid, "a non-empty list of numbers > 0")
        check_positive(self.name, **{f"C_grid[{i}]": c for i, c in enumerate(self.C_grid)})

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> LinearProbe:
        self.check(source)
        self.n_classes_ = len(train.classes)
        self.model_ = fit_logistic(
            np.asarray(train.inputs), np.asarray(train.labels), tuple(self.C_grid), self.random_state
        )
        self.n_features_ = int(np.asarray(train.inputs).shape[1])
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        seen = self.model_.classes_
        return full_proba(self.model_.predict_proba(np.asarray(inputs)), seen, self.n_classes_)

    def trainable_parameters(self) -> int:
        return (self.n_features_ + 1) * self.n_classes_ if hasattr(self, "model_") else 0


@register_strategy("knn")
class KNN(Strategy):
    """k nearest neighbours by cosine similarity; votes smoothed so no probability is exactly 0.

    ``k`` is capped at the average number of examples per class in the budget.

    Smoothing (add ``alpha`` to every class's vote count) keeps NLL finite: a raw kNN vote gives
    probability 0 to a class that no neighbour holds and an infinite log-loss when it is right.
    """

    def __init__(self, k: int = 10, alpha: float = 0.5, random_state: int | None = None):
        self.k = k
        self.alpha = alpha
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        check_int_range(self.name, "k", self.k, 1, 10**6)
        check_positive(self.name, alpha=self.alpha)

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> KNN:
        self.check(source)
        self.X_ = l2_normalise(np.asarray(train.inputs, dtype=np.float64))
        self.y_ = np.asarray(train.labels)
        self.n_classes_ = len(train.classes)
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        similarity = l2_normalise(np.asarray(inputs, dtype=np.float64)) @ self.X_.T  # (n, n_train)
        # Never more neighbours than the average class size: with 2 examples per class, k=10
        # would poll the whole budget and predict by class size alone.
        k = max(1, min(int(self.k), self.X_.shape[0] // self.n_classes_))
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]  # (n, k)
        votes = np.zeros((len(similarity), self.n_classes_))
        np.add.at(votes, (np.arange(len(similarity))[:, None], self.y_[nearest]), 1.0)
        votes += self.alpha
        return votes / votes.sum(axis=1, keepdims=True)

    def trainable_parameters(self) -> int:
        """Nothing is optimised, but the whole budget is stored and searched: n x d numbers."""
        return int(self.X_.size) if hasattr(self, "X_") else 0


@register_strategy("prototype")
class Prototype(Strategy):
    """Nearest class mean on unit-length embeddings (the few-shot / meta-learning baseline).

    Snell et al. 2017 (prototypical networks) with a frozen encoder. Probabilities are a softmax
    of cosine similarity to each prototype divided by ``temperature``.
    """

    def __init__(self, temperature: float = 0.05, random_state: int | None = None):
        self.temperature = temperature
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        check_positive(self.name, temperature=self.temperature)

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> Prototype:
        self.check(source)
        X, y = l2_normalise(np.asarray(train.inputs, dtype=np.float64)), np.asarray(train.labels)
        missing = sorted(set(range(len(train.classes))) - set(y.tolist()))
        if missing:
            raise InputError(f"prototype needs every class in the budget; class {train.classes[missing[0]]!r} has none")
        self.prototypes_ = l2_normalise(np.stack([X[y == c].mean(axis=0) for c in range(len(train.classes))]))
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        similarity = l2_normalise(np.asarray(inputs, dtype=np.float64)) @ self.prototypes_.T  # (n, C)
        return softmax(similarity / self.temperature)

    def trainable_parameters(self) -> int:
        """The class means it learned: C x d."""
        return int(self.prototypes_.size) if hasattr(self, "prototypes_") else 0


@register_strategy("zero-shot")
class ZeroShot(Strategy):
    """No labels: each example goes to the class whose *name* it is most similar to.

    The class names, written into ``template``, are embedded by the same source; probabilities
    are a softmax of cosine similarity over ``temperature``. Needs a text source, or an image
    source with a text tower (``embed_text``, as ``clip:<folder>`` has) whose text and image
    embeddings share one space.
    """

    needs_labels = False
    modalities = ("text", "image")

    def __init__(self, template: str = "{label}", temperature: float = 0.05, random_state: int | None = None):
        self.template = template
        self.temperature = temperature
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        check_positive(self.name, temperature=self.temperature)
        if not isinstance(self.template, str) or "{label}" not in self.template:
            raise bad_parameter(
                self.name, "template", self.template, "a text containing {label}, e.g. 'a story about {label}'"
            )
        if source is None or not (getattr(source, "modality", None) == "text" or hasattr(source, "embed_text")):
            what = "none was given" if source is None else f"{source.name!r} embeds {source.modality} inputs only"
            raise InputError(
                f"zero-shot needs a source that embeds the class names as text; {what}: use a text encoder,"
                " or for images an image-text model (clip:<folder>)"
            )

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> ZeroShot:
        self.check(source)
        names = [self.template.format(label=c.replace("_", " ")) for c in train.classes]
        embed = source.embed_text if hasattr(source, "embed_text") else source.embed
        self.label_embeddings_ = l2_normalise(np.asarray(embed(names), dtype=np.float64))
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        similarity = l2_normalise(np.asarray(inputs, dtype=np.float64)) @ self.label_embeddings_.T
        return softmax(similarity / self.temperature)
