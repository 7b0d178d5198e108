"""Task metrics: pure functions of integer labels and predicted probabilities ``(n, C)``.

Each also has a per-example form where one exists (``correct``, ``log_loss_per_example``),
which the paired statistics resample.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from transferlab.metrics.base import register_metric

EPS = 1e-12


def correct(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """1.0 where the most probable class is the label, else 0.0: (n,)."""
    return np.asarray(np.argmax(proba, axis=1) == labels, dtype=np.float64)


def log_loss_per_example(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """Negative log probability of the true class (probabilities clipped at 1e-12): (n,)."""
    p_true = proba[np.arange(len(labels)), labels]
    return np.asarray(-np.log(np.clip(p_true, EPS, 1.0)))


@register_metric("accuracy", higher_is_better=True, needs=("labels", "proba"), kind="task")
def accuracy(labels: np.ndarray, proba: np.ndarray) -> float:
    """Fraction of examples whose most probable class is the label."""
    return float(correct(labels, proba).mean())


@register_metric("macro-f1", higher_is_better=True, needs=("labels", "proba"), kind="task")
def macro_f1(labels: np.ndarray, proba: np.ndarray) -> float:
    """F1 averaged over classes with equal weight (classes absent from both count as 0)."""
    classes = np.arange(proba.shape[1])
    return float(f1_score(labels, np.argmax(proba, axis=1), labels=classes, average="macro", zero_division=0))


@register_metric("nll", higher_is_better=False, needs=("labels", "proba"), kind="task")
def nll(labels: np.ndarray, proba: np.ndarray) -> float:
    """Mean negative log-likelihood of the true class."""
    return float(log_loss_per_example(labels, proba).mean())


@register_metric("ece", higher_is_better=False, needs=("labels", "proba"), kind="task")
def ece(labels: np.ndarray, proba: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence, ``n_bins`` equal-width bins (Guo et al. 2017)."""
    confidence = proba.max(axis=1)
    hits = correct(labels, proba)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        inside = bins == b
        total += inside.mean() * abs(hits[inside].mean() - confidence[inside].mean())
    return float(total)


TASK_METRICS = ("accuracy", "macro-f1", "nll", "ece")


def task_metrics(labels: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    """Every task metric of one prediction."""
    return {
        "accuracy": accuracy(labels, proba),
        "macro-f1": macro_f1(labels, proba),
        "nll": nll(labels, proba),
        "ece": ece(labels, proba),
    }
