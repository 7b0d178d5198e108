"""The listing commands answer without loading torch, transformers or scikit-learn.

A property, not a time: each command runs in a fresh interpreter (this one has long imported
everything) and the test reads what it left in ``sys.modules``. A builtin source or strategy
module that imports torch at module level breaks it; import heavy modules inside the functions
that use them (``benchmarks/bench_startup.py`` prints the time each command takes).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "sklearn", "onnxruntime", "sentence_transformers", "peft")
PROBE = """
import contextlib, io, sys
sys.argv = ["transferlab", *sys.argv[1:]]
from transferlab.cli import main
out = io.StringIO()
with contextlib.redirect_stdout(out):
    try:
        main()
    except SystemExit:
        pass
heavy = [m for m in {heavy!r} if m in sys.modules]
print(len(out.getvalue()), ",".join(heavy))
"""


@pytest.mark.parametrize("command", [["--help"], ["sources"], ["datasets"], ["strategies"]])
def test_listing_commands_do_not_import_heavy_libraries(command):
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=HEAVY), *command], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    printed, _, heavy = done.stdout.strip().splitlines()[-1].partition(" ")
    assert int(printed) > 100  # the command did print its table or help
    assert heavy == "", f"`transferlab {' '.join(command)}` imported {heavy}"
