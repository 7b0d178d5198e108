"""Strategies: turning a source into a predictor (``create_strategy``, ``list_strategies``)."""

from __future__ import annotations

import importlib

from transferlab.strategies.base import (
    STRATEGIES,
    Examples,
    Strategy,
    create_strategy,
    list_strategies,
    register_strategy,
    strategy_class,
)

_BUILTIN_MODULES = (
    "transferlab.strategies.frozen",
    "transferlab.strategies.baselines",
    "transferlab.strategies.scratch",
    "transferlab.strategies.finetune",
    "transferlab.strategies.lora",
    "transferlab.strategies.regularised",
    "transferlab.strategies.adapt",
    "transferlab.strategies.adapt_samples",
    "transferlab.strategies.adapt_deep",
    "transferlab.strategies.adabn",
    "transferlab.strategies.target_only",
    "transferlab.strategies.in_context",
    "transferlab.strategies.devise",
    "transferlab.strategies.fpt",
)
_loaded = False


def load_builtin_strategies() -> None:
    """Import the modules that register the builtin strategies (once)."""
    global _loaded
    if _loaded:
        return
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True


__all__ = [
    "STRATEGIES",
    "Examples",
    "Strategy",
    "create_strategy",
    "list_strategies",
    "load_builtin_strategies",
    "register_strategy",
    "strategy_class",
]
