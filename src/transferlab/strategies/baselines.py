"""No-transfer baselines: what a team gets without any pretrained source."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from transferlab.strategies.base import Examples, Strategy, check_int_range, full_proba, register_strategy
from transferlab.strategies.frozen import fit_logistic

C_GRID = (0.1, 1.0, 10.0, 100.0)


@register_strategy("tfidf-logreg")
class TfidfLogReg(Strategy):
    """TF-IDF of words and bigrams + logistic regression (C by 3-fold CV within the budget).

    The strong classical text baseline: no pretrained model at all. Terms must occur in two
    training texts (``min_df=2``, or 1 below 20 texts): on 640 BBC articles that keeps the
    vocabulary at ~10k columns instead of ~150k, which is what makes the CV affordable.
    """

    uses_source = False
    input_kind = "raw"
    modalities = ("text",)
    is_baseline = True

    def __init__(self, max_features: int = 50000, random_state: int | None = None):
        self.max_features = max_features
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        check_int_range(self.name, "max_features", self.max_features, 1, 10**9)

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> TfidfLogReg:
        self.check(source)
        self.vectorizer_ = TfidfVectorizer(
            sublinear_tf=True, ngram_range=(1, 2), max_features=self.max_features, min_df=2 if len(train) >= 20 else 1
        )
        X = self.vectorizer_.fit_transform([str(t) for t in train.inputs])
        self.n_classes_ = len(train.classes)
        self.model_ = fit_logistic(X, np.asarray(train.labels), C_GRID, self.random_state, scale=False, max_folds=3)
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        X = self.vectorizer_.transform([str(t) for t in inputs])
        return full_proba(self.model_.predict_proba(X), self.model_.classes_, self.n_classes_)


@register_strategy("raw-logreg")
class RawLogReg(Strategy):
    """Logistic regression on the raw inputs (pixels or feature columns), flattened and standardised."""

    uses_source = False
    input_kind = "raw"
    modalities = ("image", "features")
    is_baseline = True

    def __init__(self, random_state: int | None = None):
        self.random_state = random_state

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> RawLogReg:
        X = np.asarray(train.inputs, dtype=np.float64).reshape(len(train.inputs), -1)
        self.n_classes_ = len(train.classes)
        self.model_ = fit_logistic(X, np.asarray(train.labels), C_GRID, self.random_state)
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        X = np.asarray(inputs, dtype=np.float64).reshape(len(inputs), -1)
        return full_proba(self.model_.predict_proba(X), self.model_.classes_, self.n_classes_)
