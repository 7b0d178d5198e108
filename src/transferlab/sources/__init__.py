"""Pretrained sources: a registry of feature extractors (``create_source``, ``list_sources``).

Builtin sources register when :func:`load_builtin_sources` first runs (no heavy import happens
at ``import transferlab``).
"""

from __future__ import annotations

import importlib

from transferlab.sources.base import SOURCES, Source, SourceInfo, create_source, list_sources

_BUILTIN_MODULES = (
    "transferlab.sources.zoo_text",
    "transferlab.sources.identity",
    "transferlab.sources.onnx_minilm",
    "transferlab.sources.vision",
    "transferlab.sources.multilingual",
    "transferlab.sources.classic",
    "transferlab.sources.clip",
)
_loaded = False


def load_builtin_sources() -> None:
    """Import the modules whose decorators register the builtin sources (once)."""
    global _loaded
    if _loaded:
        return
    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    _loaded = True


__all__ = ["SOURCES", "Source", "SourceInfo", "create_source", "list_sources", "load_builtin_sources"]
