"""Studies: the spec, the planner, executors, the ledger and the driver."""

from transferlab.study.runner import RunResult, run_study, validate
from transferlab.study.spec import StudySpec, load_spec, parse_spec

__all__ = ["RunResult", "StudySpec", "load_spec", "parse_spec", "run_study", "validate"]
