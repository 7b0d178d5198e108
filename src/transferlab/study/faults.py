"""Fault injection, for the fault-tolerance tests only (the way Ray Tune's restore tests inject them).

When the environment variable ``TRANSFERLAB_FAULTS`` names a JSON file ``{cell key: fault}``,
the driver hands that path to its workers and :func:`inject` runs before each cell (the key
``"*"`` applies to every cell not named):

* ``"fail"``: the cell raises (it is recorded as failed, the others go on);
* ``"hang"``: the cell sleeps for an hour (the per-cell timeout must stop it);
* ``"pause-once"``: the first attempt writes its process id to ``<faults file>.<key>.pid`` and
  sleeps, so that a test can kill that worker mid-cell; later attempts run normally.

Unset (always, outside tests), it costs one dictionary look-up per cell.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

ENV = "TRANSFERLAB_FAULTS"


def faults_file() -> str | None:
    """The fault file named in the driver's environment, to pass on to workers."""
    return os.environ.get(ENV) or None


def inject(key: str, path: str | None) -> None:
    """Apply the fault ``path`` assigns to cell ``key``, if any."""
    if not path:
        return
    faults = json.loads(Path(path).read_text(encoding="utf-8"))
    fault = faults.get(key, faults.get("*"))
    if fault == "fail":
        raise RuntimeError(f"injected fault in cell {key}")
    if fault == "hang":
        time.sleep(3600)
    if fault == "pause-once":
        try:
            fd = os.open(f"{path}.{key}.pid", os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        except FileExistsError:
            return  # a later attempt: run normally
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        time.sleep(3600)
