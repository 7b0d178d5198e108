"""Start-up of the listing commands, each timed as a whole process, with the heavy modules it loads.

Run: ``.venv/bin/python benchmarks/bench_startup.py`` (``--repeats 5``). For ``transferlab --help``,
``sources``, ``datasets`` and ``strategies`` it prints the best wall time of ``--repeats`` runs of
the installed ``transferlab`` script (interpreter start-up included: what a user waits for), and
which heavy modules (torch, transformers, scikit-learn, scipy, onnxruntime, pandas, ...) a run of
the same command leaves in ``sys.modules``. None of these commands needs torch, transformers or
scikit-learn; ``tests/test_startup.py`` asserts it. A before/after comparison cannot run side by
side in one process tree, so the "before" figures are in the README, measured on the same machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

COMMANDS = (["--help"], ["sources"], ["datasets"], ["strategies"])
HEAVY = ("torch", "transformers", "sklearn", "scipy", "onnxruntime", "sentence_transformers", "peft", "pandas")
PROBE = """
import contextlib, io, sys
sys.argv = ["transferlab", *sys.argv[1:]]
from transferlab.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    try:
        main()
    except SystemExit:
        pass
print(",".join(m for m in {heavy!r} if m in sys.modules))
"""


def script() -> str:
    """The ``transferlab`` console script next to this interpreter."""
    path = Path(sys.executable).with_name("transferlab")
    if not path.is_file():
        raise SystemExit(f"no transferlab script at {path}; install the package first (make test)")
    return str(path)


def best_wall_time(command: list[str], repeats: int) -> float:
    """Best of ``repeats`` wall times of the whole process, output discarded."""
    best = float("inf")
    env = os.environ | {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([script(), *command], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        best = min(best, time.perf_counter() - start)
    return best


def heavy_modules(command: list[str]) -> list[str]:
    """The heavy modules loaded by running ``command`` in a fresh interpreter."""
    code = PROBE.format(heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code, *command], capture_output=True, text=True, check=True)
    found = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return [m for m in found.split(",") if m]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="runs per command, best kept (default 5)")
    args = parser.parse_args(argv)
    load = f"{os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "n/a"
    print(f"{os.cpu_count()} CPUs, load average {load}; best of {args.repeats} whole-process runs")
    print(f"{'command':<26}{'seconds':>8}  heavy modules imported")
    for command in COMMANDS:
        seconds = best_wall_time(command, args.repeats)
        label = "transferlab " + " ".join(command)
        print(f"{label:<26}{seconds:>8.2f}  {', '.join(heavy_modules(command)) or '-'}")


if __name__ == "__main__":
    main()
