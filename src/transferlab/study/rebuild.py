"""Rebuild a run's outputs from its directory alone (spec.yaml, ledger, cell files)."""

from __future__ import annotations

from pathlib import Path

from transferlab.errors import InputError
from transferlab.study.ledger import Ledger
from transferlab.study.runner import plan
from transferlab.study.spec import load_spec


def rebuild_report(run_dir: str | Path) -> Path:
    """Write results.parquet, summary.json and report.html again; returns the report's path."""
    from transferlab.report import write_outputs

    run_dir = Path(run_dir).expanduser().resolve()
    if not (run_dir / "spec.yaml").is_file() or not (run_dir / "ledger.sqlite").is_file():
        raise InputError(f"{str(run_dir)!r} is not a run directory (expected spec.yaml and ledger.sqlite in it)")
    spec = load_spec(run_dir / "spec.yaml")
    split, cells, notes = plan(spec)  # the sources are not needed to rebuild
    ledger = Ledger(run_dir / "ledger.sqlite")
    try:
        write_outputs(run_dir, spec, ledger, split, [c.key for c in cells], notes)
    finally:
        ledger.close()
    return run_dir / "report.html"
