"""``target-only``: the linear probe on the labelled target examples alone, the no-transfer arm of a domain study.

In a domain study with ``target_budgets``, each cell's training set is the source budget plus
a few labelled target examples (marked ``"target"`` in ``train.domains``). This baseline keeps
only the latter, so it answers "what would those target labels give without any source data?".
Every transfer arm is compared with it, which is the usual definition of negative transfer:
adding the source to the same target labels makes the target error worse than the target labels
alone (Wang, Dai, Poczos & Carbonell 2019, "Characterizing and avoiding negative transfer",
CVPR; Rosenstein, Marx, Kaelbling & Dietterich 2005).

It uses the source's features (the pretrained model is not in question, the source *domain*
is), so it is paired with each source like the transfer arms.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.strategies.base import Examples, register_strategy
from transferlab.strategies.frozen import LinearProbe


@register_strategy("target-only")
class TargetOnly(LinearProbe):
    """``linear-probe`` fitted on the rows of ``train`` whose domain is ``"target"``."""

    is_baseline = True
    needs_target_labels = True

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> TargetOnly:
        if train.domains is None or not np.any(np.asarray(train.domains) == "target"):
            raise InputError(
                "target-only trains on the labelled target examples of a domain study, and this training set"
                " has none; give target_budgets with a value > 0 (e.g. [0, 20])"
            )
        keep = np.flatnonzero(np.asarray(train.domains) == "target")
        inputs = np.asarray(train.inputs)[keep]
        target = Examples(inputs, np.asarray(train.labels)[keep], train.classes)
        super().fit(target, source=source)
        return self
