"""After deployment: is transfer still working? Shift tests and label-free accuracy per batch.

The same verbs as the command line, for a serving process::

    from transferlab.monitor import init_monitor, check_batch, check_batches, label_batch, monitor_report

    init_monitor("runs/bbc", "minilm-l6/linear-probe/640", "monitor/")   # reference profile
    result = check_batch("monitor/", frame)                               # a DataFrame or a file
    label_batch("monitor/", result["batch_id"], "labels.csv")             # labels that came later
    monitor_report("monitor/")                                            # monitor/report.html

The names load on first use, so that the command line's help does not import the numeric stack.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "Profile": "transferlab.monitor.profile",
    "load_profile": "transferlab.monitor.profile",
    "init_monitor": "transferlab.monitor.create",
    "check_batch": "transferlab.monitor.check",
    "check_batches": "transferlab.monitor.check",
    "check_features": "transferlab.monitor.check",
    "label_batch": "transferlab.monitor.check",
    "monitor_report": "transferlab.monitor.report",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'transferlab.monitor' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
