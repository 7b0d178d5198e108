"""A fitted frozen-feature head as plain arrays: saved as safetensors + JSON, never pickled.

A strategy on frozen embeddings ends in one of three small predictors, each a few numpy lines:

* ``logistic``: standardise, then a (multinomial or binary) logistic regression, optionally after
  subtracting a centre (CORAL's target mean). ``linear-probe``, ``source-only``, ``coral``,
  ``importance-weighting`` and ``self-training`` end here.
* ``knn``: cosine k nearest neighbours with smoothed votes over the stored budget.
* ``cosine-softmax``: softmax of cosine similarity to stored unit vectors over a temperature
  (``prototype``'s class means, ``zero-shot``'s class-name embeddings).

:func:`head_from_strategy` reads a fitted strategy's learned state into a :class:`Head`;
:meth:`Head.predict_proba` recomputes the strategy's probabilities from those arrays alone (the
export checks that the two agree on the study's test set). Only these arrays and a JSON header
are written, so loading a head runs no code (unlike a pickled scikit-learn model).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.errors import InputError

LOGISTIC = ("linear-probe", "source-only", "coral", "importance-weighting", "self-training")
SUPPORTED = (*LOGISTIC, "knn", "prototype", "zero-shot")


@dataclass
class Head:
    """A predictor on embeddings: its kind, its arrays and its scalar settings."""

    kind: str  # "logistic" | "knn" | "cosine-softmax"
    n_classes: int
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` of embeddings ``X`` ``(n, d)``."""
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != self.n_features:
            raise InputError(
                f"the exported head expects embeddings with {self.n_features} columns, found shape {X.shape};"
                " fix: embed the inputs with the arm's own source"
            )
        return {"logistic": _logistic, "knn": _knn, "cosine-softmax": _cosine_softmax}[self.kind](self, X)

    @property
    def n_features(self) -> int:
        key = {"logistic": "coef", "knn": "X", "cosine-softmax": "vectors"}[self.kind]
        return int(self.arrays[key].shape[1])

    def save(self, folder: Path) -> None:
        """``head.safetensors`` (the arrays) and ``head.json`` (kind, classes, settings)."""
        from safetensors.numpy import save_file

        from transferlab.durable import write_atomic

        tmp = folder / ".head.safetensors.tmp"
        save_file({k: np.ascontiguousarray(v) for k, v in self.arrays.items()}, str(tmp))
        tmp.replace(folder / "head.safetensors")
        header = {"kind": self.kind, "n_classes": self.n_classes, "settings": self.settings}
        write_atomic(folder / "head.json", json.dumps(header, indent=2))

    @classmethod
    def load(cls, folder: Path) -> Head:
        """The head saved by :meth:`save`; a missing or damaged file is one :class:`InputError` line."""
        from safetensors.numpy import load_file

        try:
            header = json.loads((folder / "head.json").read_text(encoding="utf-8"))
            arrays = load_file(str(folder / "head.safetensors"))
            head = cls(str(header["kind"]), int(header["n_classes"]), dict(arrays), dict(header["settings"]))
            _ = head.n_features  # the arrays the kind needs are there
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(
                f"{str(folder)!r}: the exported head (head.json, head.safetensors) is missing or damaged"
                f" ({type(exc).__name__}); fix: run `transferlab monitor init` again"
            ) from None
        return head


def head_from_strategy(name: str, strategy: Any) -> Head:
    """The :class:`Head` of a fitted strategy registered as ``name``; unsupported ones are refused."""
    if name in LOGISTIC:
        return _logistic_head(strategy)
    if name == "knn":
        arrays = {"X": strategy.X_, "y": strategy.y_.astype(np.int64)}
        return Head("knn", strategy.n_classes_, arrays, {"k": int(strategy.k), "alpha": float(strategy.alpha)})
    if name in ("prototype", "zero-shot"):
        vectors = strategy.prototypes_ if name == "prototype" else strategy.label_embeddings_
        settings = {"temperature": float(strategy.temperature)}
        return Head("cosine-softmax", int(vectors.shape[0]), {"vectors": vectors}, settings)
    raise InputError(
        f"strategy {name!r} cannot be exported for monitoring; supported: {', '.join(SUPPORTED)} (frozen-feature"
        " arms). An arm that trains its backbone would need its weights saved: monitor a frozen arm of the study"
    )


def _logistic_head(strategy: Any) -> Head:
    """Scaler and logistic regression of the strategy's pipeline, and CORAL's target centre."""
    pipeline = strategy.model_
    model = pipeline.steps[-1][1]
    scaler = pipeline.steps[0][1] if len(pipeline.steps) > 1 else None
    d = int(model.coef_.shape[1])
    arrays = {
        "coef": np.asarray(model.coef_, np.float64),  # (C', d), C' = 1 for two seen classes
        "intercept": np.asarray(model.intercept_, np.float64),
        "seen": np.asarray(model.classes_, np.int64),  # classes the budget held
        "mean": np.asarray(scaler.mean_ if scaler is not None else np.zeros(d), np.float64),
        "scale": np.asarray(scaler.scale_ if scaler is not None else np.ones(d), np.float64),
        "centre": np.asarray(getattr(strategy, "mean_target_", np.zeros(d)), np.float64),
    }
    return Head("logistic", int(strategy.n_classes_), arrays)


def _logistic(head: Head, X: np.ndarray) -> np.ndarray:
    a = head.arrays
    Z = ((X - a["centre"]) - a["mean"]) / a["scale"]  # (n, d)
    scores = Z @ a["coef"].T + a["intercept"]  # (n, C')
    if scores.shape[1] == 1:  # scikit-learn's binary model: P(second class) = sigmoid(score)
        p = 1.0 / (1.0 + np.exp(-scores[:, 0]))
        seen_proba = np.stack([1.0 - p, p], axis=1)
    else:
        seen_proba = _softmax(scores)
    out = np.zeros((len(X), head.n_classes))
    out[:, a["seen"]] = seen_proba
    return out


def _knn(head: Head, X: np.ndarray) -> np.ndarray:
    stored, labels = _unit(head.arrays["X"]), head.arrays["y"]
    similarity = _unit(X) @ stored.T  # (n, n_train)
    k = max(1, min(int(head.settings["k"]), stored.shape[0] // head.n_classes))
    nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]  # (n, k)
    votes = np.zeros((len(X), head.n_classes))
    np.add.at(votes, (np.arange(len(X))[:, None], labels[nearest]), 1.0)
    votes += float(head.settings["alpha"])
    return votes / votes.sum(axis=1, keepdims=True)


def _cosine_softmax(head: Head, X: np.ndarray) -> np.ndarray:
    similarity = _unit(X) @ head.arrays["vectors"].T  # (n, C); the vectors are stored unit-length
    return _softmax(similarity / float(head.settings["temperature"]))


def _softmax(scores: np.ndarray) -> np.ndarray:
    exp = np.exp(scores - scores.max(axis=1, keepdims=True))
    return exp / exp.sum(axis=1, keepdims=True)


def _unit(X: np.ndarray) -> np.ndarray:
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)
