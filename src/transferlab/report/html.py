"""The self-contained HTML report: learning curves, the verdict table, and what the numbers mean."""

from __future__ import annotations

import html
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from transferlab.report.figures import curves_by_source, learning_curve

VERDICT_CLASS = {"positive": "pos", "negative": "neg", "inconclusive": "inc"}


def fmt_interval(value: float, lo: float | None, hi: float | None, scale: float = 100.0) -> str:
    """``0.853 [0.82, 0.88]`` as percentage points by default: ``85.3 [82.0, 88.0]``."""
    if lo is None or hi is None:
        return f"{value * scale:.1f}"
    return f"{value * scale:.1f} [{lo * scale:.1f}, {hi * scale:.1f}]"


def verdict_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the verdict table: one per transfer arm, budget and baseline."""
    scale = 100.0 if summary["primary_metric"] == "accuracy" else 1.0
    rows = []
    for e in summary["entries"]:
        for baseline, g in sorted(e["gains"].items()):
            rows.append(
                {
                    "source": e["source"],
                    "strategy": e["strategy"],
                    "role": e["role"],
                    "budget": e["budget"],
                    "mean": fmt_interval(e["mean"], e["lo"], e["hi"], scale),
                    "baseline": baseline,
                    "gain": fmt_interval(g["gain"], g["lo"], g["hi"], scale),
                    "verdict": g["verdict"],
                    "css": VERDICT_CLASS[g["verdict"]],
                }
            )
    return rows


def verdict_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many transfer-vs-baseline comparisons got each verdict."""
    counts = {"positive": 0, "negative": 0, "inconclusive": 0}
    for row in rows:
        if row["role"] == "transfer":
            counts[row["verdict"]] += 1
    return counts


def render_report(summary: dict[str, Any]) -> str:
    """The report as one HTML string (figures inline as SVG, no external resource)."""
    env = Environment(loader=PackageLoader("transferlab.report", "templates"), autoescape=select_autoescape())
    rows = verdict_rows(summary)
    figures = {
        s: learning_curve(s, lines, summary["primary_metric"])
        for s, lines in curves_by_source(summary["entries"]).items()
    }
    return env.get_template("report.html").render(
        s=summary, rows=rows, counts=verdict_counts(rows), figures=figures, escape=html.escape
    )
