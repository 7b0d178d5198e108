"""The shift tests of one batch against the reference: the project's one shift block, arm's probabilities in.

:func:`shift_tests` calls :func:`transferlab.metrics.shift_block.shift_block` (the MMD
permutation test, the classifier two-sample test, BBSE with the class-prior test, the
class-conditional MMD and the diagnosis) with the reference part of the profile as the source
sample and the batch as the target. The arm's own probabilities are BBSE's black box: on the
reference they are held-out predictions (the arm never trained on the study's test set), which is
what BBSE needs to estimate its confusion matrix.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from transferlab.metrics.shift_block import shift_block

# The diagnosis' Bonferroni count with reference labels: MMD, C2ST, class priors, class-conditional MMD.
N_TESTS = 4
MAX_PERMUTATIONS = 20_000  # about a second per MMD test at a few hundred rows a side


def permutations_for(level: float, requested: int) -> int:
    """Permutations enough for the MMD tests to reject at ``level / N_TESTS``.

    A permutation p-value is at least ``1 / (P + 1)``: with too few permutations the test can never
    reach the Bonferroni threshold (300 permutations at level 0.01 cannot go below 0.0033 > 0.0025),
    and a shift only the MMD sees would never alert. At least five times the threshold's inverse,
    within ``MAX_PERMUTATIONS``.
    """
    needed = math.ceil(5 * N_TESTS / level)
    return int(min(max(requested, needed), MAX_PERMUTATIONS))


def shift_tests(
    X_reference: np.ndarray,
    y_reference: np.ndarray,
    proba_reference: np.ndarray,
    X_batch: np.ndarray,
    proba_batch: np.ndarray,
    y_batch: np.ndarray | None,
    classes: list[str],
    level: float,
    n_permutations: int = 500,
    n_boot: int = 500,
    random_state: int | None = 0,
) -> dict[str, Any]:
    """The shift block of a batch ``(n, d)`` against the reference ``(n_ref, d)`` at family level ``level``.

    ``y_batch`` (codes over ``classes``) is used where the batch came with labels: the class-prior
    and class-conditional tests then use them, and the bound gets its measured target error.
    ``n_permutations`` is raised where the level needs more (:func:`permutations_for`).
    """
    n_permutations = permutations_for(level, n_permutations)
    block = shift_block(
        X_reference,
        X_batch,
        y_source=y_reference,
        y_target=y_batch,
        proba_source=proba_reference,
        proba_target=proba_batch,
        classes=classes,
        alpha=level,
        n_permutations=n_permutations,
        max_samples=None,  # the reference is capped when the profile is made; batches are small
        n_boot=n_boot,
        random_state=random_state,
    )
    if 1.0 / (n_permutations + 1) > level / N_TESTS:
        block["notes"].append(
            f"at level {level:.2g} the MMD tests would need more than {MAX_PERMUTATIONS} permutations to reject:"
            " only the classifier and class-prior tests can alert"
        )
    return block
