"""The command line, run in this process: what a subprocess would print and return, without
paying Python's and torch's start-up (seconds) for every case.

A few tests keep a real process (``test_startup.py``, the kill -9 tests, one bad-input case in
``test_study.py``) for what only a process shows: its exit status and what it imports.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """``transferlab ARGS`` in-process: exit code, stdout and stderr, as ``subprocess.run`` gives them."""
    from transferlab.cli import main

    out, err = io.StringIO(), io.StringIO()
    argv, here = sys.argv, os.getcwd()
    sys.argv = ["transferlab", *args]
    code = 0
    try:
        if cwd is not None:
            os.chdir(cwd)
        with redirect_stdout(out), redirect_stderr(err):
            main()
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    finally:
        sys.argv = argv
        os.chdir(here)
    return subprocess.CompletedProcess(["transferlab", *args], code, out.getvalue(), err.getvalue())
