"""When a batch alerts, and how false alarms are controlled over a sequence of batches.

**One batch.** The shift tests of :func:`transferlab.metrics.shift_block.shift_block` run
against the reference: the MMD permutation test, the classifier two-sample test, the class-prior
test on the arm's predictions (BBSE's chi-square; the true labels where the batch has them), and
the class-conditional MMD. The batch alerts when the diagnosis finds any shift, with every test
at ``level / m`` (Bonferroni over its ``m`` tests). Each p-value is valid under "the batch is
drawn like the reference" (the permutation test exactly, the others up to their approximations),
so an unshifted batch alerts with probability at most ``level``.

**A sequence of batches.** Two controls, the user's choice:

* ``false_alarm_rate`` alone: every batch is checked at that level. The expected number of
  unshifted batches between two false alarms, the expected run length (ERT) that Alibi Detect's
  online detectors are set by, is then at least ``1 / false_alarm_rate`` (exactly that when the
  checks are independent; they share one reference sample, which makes false alarms come in
  runs rather than more often).
* ``planned_batches = N``: the rate is spent over N checks, each at ``false_alarm_rate / N``
  (Bonferroni over time): the chance of *any* false alarm in the first N unshifted batches is at
  most ``false_alarm_rate``. Batches after the N-th keep that level, and the check says so.

**Calibration on the reference.** The reference (the study's test set) is split in two: one
part is what every batch is compared with, the other is never used for those statistics.
:func:`calibrate_alarms` draws unshifted pseudo-batches of the planned batch size from the
second part, runs the same check on each, and records the measured false-alarm rate with its
Wilson interval and each estimator's error on them. Alibi Detect *sets* its thresholds by such
simulation because its statistics have no p-value; here every test has one, so the simulation
*checks* the level instead (Bonferroni is conservative when the tests agree, as they do), and
``monitor init`` prints what it found.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import bad_parameter
from transferlab.metrics.shift_inputs import wilson_interval


def per_batch_level(false_alarm_rate: float, planned_batches: int | None = None) -> float:
    """The level every batch is checked at (see the module docstring)."""
    if not 0.0 < false_alarm_rate < 0.5:
        raise bad_parameter("monitor", "false_alarm_rate", false_alarm_rate, "between 0 and 0.5, e.g. 0.01")
    if planned_batches is None:
        return float(false_alarm_rate)
    if isinstance(planned_batches, bool) or not isinstance(planned_batches, int) or planned_batches < 1:
        raise bad_parameter("monitor", "planned_batches", planned_batches, "a positive integer")
    return float(false_alarm_rate) / planned_batches


def policy_text(false_alarm_rate: float, planned_batches: int | None) -> str:
    """One sentence saying what the false-alarm control promises."""
    if planned_batches is None:
        return (
            f"each batch is checked at false-alarm rate {false_alarm_rate:g}: on unshifted traffic, at least"
            f" {1 / false_alarm_rate:.0f} batches between false alarms on average"
        )
    return (
        f"the false-alarm rate {false_alarm_rate:g} is spent over {planned_batches} planned batches (each at"
        f" {false_alarm_rate / planned_batches:.2g}): at most that chance of any false alarm among them"
    )


def is_alert(block: dict[str, Any]) -> bool:
    """Whether a batch's shift block finds a shift (its diagnosis is not "none")."""
    return bool(block["diagnosis"]["kind"] != "none")


def calibrate_alarms(
    X_reference: np.ndarray,
    y_reference: np.ndarray,
    proba_reference: np.ndarray,
    X_calibration: np.ndarray,
    y_calibration: np.ndarray,
    proba_calibration: np.ndarray,
    classes: list[str],
    level: float,
    batch_size: int,
    n_batches: int = 50,
    n_permutations: int = 200,
    random_state: int = 0,
) -> dict[str, Any]:
    """Run the batch check on unshifted pseudo-batches of the calibration part; the measured rates.

    Returns
    -------
    dict
        ``batch_size``, ``n_batches``, ``alerts``, ``false_alarm_rate`` with ``lo`` / ``hi`` (Wilson,
        95 %), ``level``, and ``estimator_mae``: each estimator's mean absolute error against the
        pseudo-batches' true accuracy (the importance-weighted one is left out: it refits a
        classifier per batch).
    """
    from transferlab.monitor.batch_tests import shift_tests
    from transferlab.monitor.estimate import estimate_accuracy

    rng = np.random.default_rng(random_state)
    correct_ref = proba_reference.argmax(axis=1) == y_reference
    alerts, errors = 0, {}
    for i in range(n_batches):
        rows = rng.choice(len(X_calibration), size=batch_size, replace=False)
        block = shift_tests(
            X_reference, y_reference, proba_reference, X_calibration[rows], proba_calibration[rows], None,
            classes, level, n_permutations, n_boot=200, random_state=int(rng.integers(2**31)),
        )  # fmt: skip
        alerts += is_alert(block)
        truth = float(np.mean(proba_calibration[rows].argmax(axis=1) == y_calibration[rows]))
        for e in estimate_accuracy(proba_reference, correct_ref, proba_calibration[rows], n_boot=50, random_state=i):
            errors.setdefault(e.method, []).append(abs(e.accuracy - truth))
    lo, hi = wilson_interval(alerts, n_batches)
    return {
        "batch_size": batch_size,
        "n_batches": n_batches,
        "alerts": alerts,
        "false_alarm_rate": alerts / n_batches,
        "lo": lo,
        "hi": hi,
        "level": level,
        "estimator_mae": {m: float(np.mean(v)) for m, v in errors.items()},
    }
