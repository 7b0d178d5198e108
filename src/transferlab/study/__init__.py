"""Studies: the spec, the planner, executors, the ledger and the driver.

The names below load on first use, so that light commands (``transferlab status``) can import
``transferlab.study.status`` without importing torch through the driver.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_WHERE = {
    "RunResult": "transferlab.study.runner",
    "run_study": "transferlab.study.runner",
    "validate": "transferlab.study.runner",
    "StudySpec": "transferlab.study.spec",
    "load_spec": "transferlab.study.spec",
    "parse_spec": "transferlab.study.spec",
}

__all__ = ["RunResult", "StudySpec", "load_spec", "parse_spec", "run_study", "validate"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'transferlab.study' has no attribute {name!r}")
    return getattr(import_module(_WHERE[name]), name)
