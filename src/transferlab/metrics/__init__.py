"""Metrics: pure functions on arrays (task metrics, transferability scores, shift statistics)."""

from __future__ import annotations

import importlib

from transferlab.metrics.base import METRICS, Metric, get_metric, list_metrics, register_metric

_BUILTIN_MODULES = (
    "transferlab.metrics.task",
    "transferlab.metrics.transferability",
    "transferlab.metrics.mmd",  # shift statistics: mmd2
    "transferlab.metrics.domain_classifier",  # c2st-auc, proxy-a-distance
)
_loaded = False


def load_builtin_metrics() -> None:
    """Import the modules that register the builtin metrics (once)."""
    global _loaded
    if _loaded:
        return
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True


__all__ = ["METRICS", "Metric", "get_metric", "list_metrics", "load_builtin_metrics", "register_metric"]
