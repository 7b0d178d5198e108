"""Figures for the report, rendered to inline SVG (the HTML file stays self-contained)."""

from __future__ import annotations

import io
from collections import defaultdict
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def to_svg(fig: Any) -> str:
    """A matplotlib figure as an SVG string (the figure is closed)."""
    buffer = io.StringIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def curves_by_source(entries: list[dict[str, Any]]) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{source: {line label: entries sorted by budget}}; source-free baselines join every source."""
    sources = sorted({e["source"] for e in entries if e["source"] != "none"}) or ["none"]
    lines: dict[str, dict[str, list[dict[str, Any]]]] = {s: defaultdict(list) for s in sources}
    for e in entries:
        for source in sources if e["source"] == "none" else [e["source"]]:
            lines[source][e["strategy"]].append(e)
    return {s: {k: sorted(v, key=lambda e: e["budget"]) for k, v in ls.items()} for s, ls in lines.items()}


def learning_curve(source: str, lines: dict[str, list[dict[str, Any]]], metric: str) -> str:
    """Metric against budget: one line per strategy with its interval band, baselines dashed."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, points in sorted(lines.items()):
        x = [p["budget"] for p in points]
        y = [p["mean"] for p in points]
        style = "--" if points[0]["role"] == "baseline" else "-"
        (line,) = ax.plot(x, y, style, marker="o", markersize=3, label=label)
        if all(p["lo"] is not None for p in points):
            ax.fill_between(x, [p["lo"] for p in points], [p["hi"] for p in points], color=line.get_color(), alpha=0.15)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("labelled training examples (budget)")
    ax.set_ylabel(metric)
    ax.set_title(f"{source}: {metric} vs budget (bands: 95% intervals)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return to_svg(fig)
