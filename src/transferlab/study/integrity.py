"""Nothing lost, nothing served damaged: a finished cell is trusted only while its file checks out.

When the driver writes a cell file it records the file's sha256 in the ledger (after the file
was flushed to disk). At every start, and before ``report`` reads them, each finished cell's file
is checked against that checksum. A missing, truncated or altered file puts the cell back to
``pending`` with a note, so the next ``run`` computes it again; it is never read as a result.
Ledgers written before checksums existed get one on first check if their file still reads as a
non-empty table (a half-written file was never possible: files were renamed into place whole).
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from transferlab.errors import InputError
from transferlab.study.files import sha256_file
from transferlab.study.ledger import Ledger
from transferlab.study.rundir import cell_path


def cell_file_problem(out: Path, name: str | None, sha256: str | None) -> tuple[str | None, str | None]:
    """(what is wrong with a finished cell's file or None, its checksum when it is fine)."""
    try:
        path = cell_path(out, name or "")
    except InputError:
        return f"the ledger names {name!r}, not a cell file inside the run directory", None
    if not path.is_file():
        return f"its file {name} is missing", None
    digest = sha256_file(path)
    if sha256 is not None:
        return (None, digest) if digest == sha256 else (f"its file {name} failed its checksum (damaged)", None)
    try:
        rows = len(pd.read_parquet(io.BytesIO(path.read_bytes())))
    except Exception:  # noqa: BLE001 - any parse failure means the file cannot be trusted
        rows = 0
    return (None, digest) if rows > 0 else (f"its file {name} is empty or unreadable", None)


def verify_done_cells(out: Path, ledger: Ledger) -> list[tuple[str, str]]:
    """Check every finished cell's file; put damaged ones back to pending. Returns (key, problem) of each."""
    broken, adopted = [], []
    for key, name, recorded in ledger.done_files():
        problem, digest = cell_file_problem(out, name, recorded)
        if problem is not None:
            broken.append((key, problem))
        elif recorded is None and digest is not None:
            adopted.append((key, digest))
    with ledger.transaction():
        for key, problem in broken:
            ledger.reset(key, f"run again: {problem}")
        for key, digest in adopted:
            ledger.set_sha256(key, digest)
    return broken


def broken_note(broken: list[tuple[str, str]]) -> str:
    """One line for the run's notes about the cells put back to pending."""
    first = broken[0][1]
    return f"{len(broken)} finished cell(s) had a missing or damaged file and were computed again (first: {first})"
