"""Finished runs out to where teams keep their experiments: MLflow (``transferlab export --mlflow``).

The exporter reads a run directory (``summary.json``, ``spec.yaml``, ``report.html``) and writes
nothing into it; ``mlflow`` is an optional extra (``pip install 'transferlab[mlflow]'``).
"""

from __future__ import annotations

from transferlab.export.mlflow_store import ExportResult, export_mlflow
from transferlab.export.run_dir import ArmRecord, FinishedRun, arm_records, read_run

__all__ = ["ArmRecord", "ExportResult", "FinishedRun", "arm_records", "export_mlflow", "read_run"]
