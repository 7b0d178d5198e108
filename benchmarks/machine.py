"""What the benchmarks print first: the CPU they ran on and how busy the machine was."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name and logical core count (Linux /proc/cpuinfo), else what platform says."""
    try:
        names = [
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ]
    except OSError:
        names = []
    name = names[0] if names else platform.processor() or platform.machine()
    return f"{name} ({os.cpu_count()} logical cores)"


def machine_line() -> str:
    """``CPU: ...; load average ...``: a busy machine makes absolute times meaningless, ratios less so."""
    try:
        load = "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())
    except OSError:
        load = "load average unknown"
    return f"CPU: {cpu_model()}; {load}"
