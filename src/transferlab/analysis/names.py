"""Short, readable arm names for sentences, legends and tables, with the parameters in a footnote.

An arm's full label (``scratch(max_length=32,max_steps=15)``) identifies it exactly but buries
the name in the parameters. The short name is the strategy's name when no other arm of the
study shares it, and ``name #1``, ``name #2`` ... (in label order) when several do; the
parameters of every arm that has any are listed once, as a footnote.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any


def short_names(params: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """``{"short": {label: short name}, "footnotes": {short name: "k=5, alpha=0.5"}}``.

    ``params`` maps each arm label to ``{"name": registered name, "params": {...}}``.
    """
    by_name: dict[str, list[str]] = defaultdict(list)
    for label, arm in sorted(params.items()):
        by_name[arm["name"]].append(label)
    short: dict[str, str] = {}
    for name, labels in by_name.items():
        for i, label in enumerate(labels, start=1):
            short[label] = name if len(labels) == 1 else f"{name} #{i}"
    footnotes = {
        short[label]: ", ".join(f"{k}={v}" for k, v in sorted(arm["params"].items()))
        for label, arm in sorted(params.items())
        if arm["params"]
    }
    return {"short": short, "footnotes": footnotes}
