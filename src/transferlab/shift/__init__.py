"""Domain shift between two data sets: ``measure_shift`` (behind ``transferlab shift``).

The statistics are pure functions in :mod:`transferlab.metrics` (``mmd``, ``domain_classifier``,
``label_shift``, ``shift_bound``, ``shift_diagnosis``, ``shift_block``), shared with domain
studies and monitoring; this package loads and embeds the data and prints the result.
"""

from __future__ import annotations

from transferlab.shift.measure import measure_shift

__all__ = ["measure_shift"]
