"""The arms of a domain study: target-budget labels, and the no-adaptation arm each method is measured against.

A cell that also trained on ``t`` labelled target examples has the arm label ``<label> +t target``
(:mod:`transferlab.study.planner`), so the analysis keeps its usual (source, strategy, budget)
arms; :func:`split_target_label` recovers the parts. Each adaptation method is compared with the
arm that does the same without adapting, at the same source and target budget: ``source-only`` for
a method on frozen features, ``finetune`` (when the study has it) for one that trains the
backbone, since the deep methods share ``finetune``'s recipe and differ only by their alignment term.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from transferlab.analysis.cells import strategy_name

REFERENCE = "source-only"
DEEP_REFERENCE = "finetune"
_TARGET = re.compile(r"^(?P<base>.+) \+(?P<t>\d+) target$")


def split_target_label(label: str) -> tuple[str, int]:
    """``"coral +10 target"`` -> ``("coral", 10)``; a label without the suffix has target budget 0."""
    found = _TARGET.match(label)
    return (found["base"], int(found["t"])) if found else (label, 0)


def with_target(base: str, target_budget: int) -> str:
    """The arm label of ``base`` at ``target_budget`` labelled target examples."""
    return f"{base} +{target_budget} target" if target_budget else base


def reference_arm(label: str, trains_backbone: bool, labels: Iterable[str]) -> str | None:
    """The arm ``label`` is compared with, among ``labels`` (the arms of its source and budget), or None.

    The reference has the same target budget. Of several candidates (parameter variants), the one
    without parameters is taken, else the first in label order.
    """
    base, t = split_target_label(label)
    wanted = [DEEP_REFERENCE, REFERENCE] if trains_backbone else [REFERENCE]
    arms = sorted(labels)
    for name in wanted:
        found = [a for a in arms if split_target_label(a)[1] == t and strategy_name(split_target_label(a)[0]) == name]
        if found:
            plain = [a for a in found if split_target_label(a)[0] == name]
            chosen = (plain or found)[0]
            return None if chosen == label else chosen
    return None
