"""Rebuild a run's outputs from its directory alone (spec.yaml, ledger, cell files).

``report`` never replaces good outputs with worse ones: it refuses (one line, nothing written)
when the folder is not a run directory, when a run holds it, when the data no longer gives the
cells the ledger holds (the data file changed, or the study was edited by hand), or when a
finished cell's file is missing or damaged (those cells are put back to pending for the next
``run``). The data is read from the absolute path the run recorded, so a relative dataset path
does not depend on the folder ``report`` is started from.
"""

from __future__ import annotations

from pathlib import Path

from transferlab.errors import InputError
from transferlab.study.integrity import verify_done_cells
from transferlab.study.ledger import Ledger
from transferlab.study.rundir import RunLock, check_no_links, is_live, is_run_dir, read_marker
from transferlab.study.runner import plan
from transferlab.study.spec import load_spec
from transferlab.study.status import open_read_only


def rebuild_report(run_dir: str | Path) -> Path:
    """Write results.parquet, summary.json and report.html again; returns the report's path."""
    from transferlab.study.outputs import write_outputs

    run_dir = Path(run_dir).expanduser().resolve()
    if not all((run_dir / n).is_file() for n in ("spec.yaml", "ledger.sqlite")) or not is_run_dir(run_dir):
        raise InputError(f"{str(run_dir)!r} is not a run directory (expected spec.yaml and ledger.sqlite in it)")
    check_no_links(run_dir)
    spec = load_spec(run_dir / "spec.yaml")
    marker = read_marker(run_dir)
    paths = marker.get("dataset_path"), marker.get("target_dataset_path")
    split, cells, notes = plan(spec, *paths)  # the sources are not needed to rebuild
    fingerprint = split.train.fingerprint + split.test.fingerprint
    check_cells_match(run_dir, [c.key for c in cells], marker, fingerprint)  # read-only: a refusal writes nothing
    with RunLock(run_dir, "report"):
        ledger = Ledger(run_dir / "ledger.sqlite")
        try:
            broken = verify_done_cells(run_dir, ledger)
            if broken:
                raise InputError(
                    f"{len(broken)} finished cell(s) of {str(run_dir)!r} cannot be read ({broken[0][1]}); they are"
                    " marked to run again: run the study into this folder again, then `transferlab report`"
                )
            write_outputs(run_dir, spec, ledger, split, [c.key for c in cells], notes)
        finally:
            ledger.close()
    return run_dir / "report.html"


def check_cells_match(run_dir: Path, keys: list[str], marker: dict, fingerprint: str) -> None:
    """Raise unless every cell the stored spec plans on the data as it is now is in the ledger."""
    db = open_read_only(run_dir / "ledger.sqlite", is_live(run_dir))
    try:
        known = {k for (k,) in db.execute("SELECT key FROM cells")}
    finally:
        db.close()
    missing = [k for k in keys if k not in known]
    if not missing:
        return
    recorded = marker.get("data_fingerprint")
    why = (
        f"the data changed since the run (fingerprint {recorded}, now {fingerprint})"
        if recorded and recorded != fingerprint
        else "the data or spec.yaml changed since the run"
    )
    raise InputError(
        f"{str(run_dir)!r}: {len(missing)} of the {len(keys)} cells planned now are not in its ledger: {why};"
        " nothing was rewritten: restore the data, or run the study again (into a new --out to keep this one)"
    )
