"""A run directory: its marker, its lock, its leftovers, and the rule for the paths it names.

* **Marker.** ``.transferlab-run`` (JSON: study name, the dataset path resolved when the run
  started, the data fingerprint) says "a run wrote this folder". ``run`` refuses a folder that
  holds run-like files (``spec.yaml``, ``summary.json``, ``report.html``, ...) without it, so
  ``run -o .`` in a project folder never replaces files that are not a run's. A folder written
  before markers existed is recognised by its ledger and adopted.
* **Lock.** ``.lock`` is held with ``flock`` for the whole of ``run`` or ``report``: a second
  command on the same folder refuses with one line. The kernel releases it when the process
  dies, so a ``kill -9`` never leaves a stale lock.
* **Leftovers.** Temporary files of a killed run (``.*.tmp*``) are removed at the next start,
  under the lock (no one else can be writing them).
* **Paths.** A run directory names only files inside itself: the cell files the ledger names
  must be ``cells/<key>.parquet`` and resolve inside ``cells/``, and none of the files or
  folders a run reads or writes may be a symbolic link.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

from transferlab.errors import InputError
from transferlab.study.files import HOST, remove_stale_tmp, write_atomic

MARKER = ".transferlab-run"
LOCK = ".lock"
RUN_FILES = (
    "spec.yaml",
    "summary.json",
    "report.html",
    "results.parquet",
    "environment.json",
    "ledger.sqlite",
    "cells",
    "extras",
)
CELL_FILE = re.compile(r"^cells/[0-9a-f]{8,64}\.parquet$")


def is_run_dir(folder: Path) -> bool:
    """Whether ``folder`` was written by a transferlab run (its marker, or a ledger from before markers)."""
    return (folder / MARKER).is_file() or _is_ledger(folder / "ledger.sqlite")


def _is_ledger(path: Path) -> bool:
    if not path.is_file():
        return False
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            return db.execute("SELECT 1 FROM sqlite_master WHERE name='cells'").fetchone() is not None
    except sqlite3.Error:
        return False


def check_out_dir(out: Path) -> None:
    """Raise :class:`InputError` unless ``out`` can hold a run (new, empty, unrelated files, or a run's)."""
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file; give a directory for the run")
    if not out.is_dir() or is_run_dir(out):
        return
    found = [name for name in RUN_FILES if (out / name).exists()]
    if found:
        raise InputError(
            f"--out {str(out)!r} already holds {', '.join(found)} that no transferlab run wrote (no {MARKER}"
            " marker); give a new or empty folder for the run so that they are not replaced"
        )


def check_no_links(out: Path) -> None:
    """Raise :class:`InputError` if a file or folder the run uses inside ``out`` is a symbolic link."""
    for name in (*RUN_FILES, MARKER, LOCK):
        if (out / name).is_symlink():
            raise InputError(
                f"run directory {str(out)!r}: {name} is a symbolic link; a run directory holds only its own"
                " files, so remove the link (a run never reads or writes through one)"
            )


def cell_path(out: Path, name: str) -> Path:
    """The path of a cell file named in the ledger, checked to lie inside ``out/cells``."""
    path = out / name
    inside = path.resolve().parent == (out / "cells").resolve()
    if not CELL_FILE.match(name or "") or not inside or path.is_symlink():
        raise InputError(
            f"run directory {str(out)!r}: the ledger names the cell file {name!r}, which is not a"
            " cells/<key>.parquet file inside the run directory; the ledger was edited or damaged"
        )
    return path


class RunLock:
    """An exclusive ``flock`` on ``out/.lock``, held while a command writes the run directory."""

    def __init__(self, out: Path, command: str) -> None:
        self.out = out
        self.command = command
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        fd = os.open(self.out / LOCK, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            os.close(fd)
            raise InputError(
                f"run directory {str(self.out)!r} is in use by {holder}; wait for it to finish (see"
                f" `transferlab status {self.out}`) or give another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"`transferlab {self.command}` (pid {os.getpid()} on {HOST})".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the flock
            self.fd = None


def is_live(out: Path) -> bool:
    """Whether a ``run`` or ``report`` holds the lock of ``out`` now (never blocks)."""
    try:
        fd = os.open(out / LOCK, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def clean_leftovers(out: Path) -> int:
    """Remove the temporary files a killed run left in ``out`` (call with the lock held)."""
    return sum(remove_stale_tmp(out / sub, every=True) for sub in (".", "cells", "extras"))


def write_marker(out: Path, info: dict[str, Any]) -> None:
    """Write (or update) the marker with ``info`` (study, dataset path, data fingerprint)."""
    old = read_marker(out)
    marker = {"format": 1, "created": old.get("created", time.time())} | info
    write_atomic(out / MARKER, json.dumps(marker, indent=2))


def read_marker(out: Path) -> dict[str, Any]:
    """The marker's content, or ``{}`` for a folder written before markers existed."""
    path = out / MARKER
    if not path.is_file() or path.is_symlink():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
