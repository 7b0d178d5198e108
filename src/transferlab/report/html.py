"""The self-contained HTML report: learning curves, the verdict table, and what the numbers mean."""

from __future__ import annotations

import html
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

from transferlab.report.figures import cost_plot, curves_by_source, effective_data_plot, learning_curve

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
        s=summary,
        rows=rows,
        counts=verdict_counts(rows),
        figures=figures,
        ladder=ladder_sections(summary),
        escape=html.escape,
    )


def ladder_sections(summary: dict[str, Any]) -> dict[str, Any]:
    """Figures and table rows of the ladder sections (empty where the study has no such data)."""
    ladder = summary.get("ladder") or {}
    scale = 100.0 if summary["primary_metric"] == "accuracy" else 1.0
    trains = [e for e in summary["entries"] if e["cost"].get("trainable_params", 0) > 0 and e["labels_used"] > 0]
    return {
        "cost_plot": cost_plot(summary["entries"], summary["primary_metric"]) if trains else None,
        "effective_plots": [effective_data_plot(r) for r in ladder.get("effective_data", []) if r.get("curve")],
        "effective_notes": [f"{r['source']}: {r['note']}" for r in ladder.get("effective_data", []) if r.get("note")],
        "effective_rows": effective_rows(ladder.get("effective_data", [])),
        "break_even": [break_even_row(r, scale) for r in ladder.get("break_even", [])],
        "forgetting": [
            {
                **r,
                "shown": f"{r['forgetting'] * 100:+.1f}",
                "before_pct": r["before"] * 100,
                "after_pct": r["after"] * 100,
            }
            for r in ladder.get("forgetting", [])
        ],
        "recommendations": summary.get("recommendations", []),
    }


def effective_rows(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One table row per source, transfer arm and budget."""
    rows = []
    for block in blocks:
        for arm, points in sorted(block.get("arms", {}).items()):
            for p in points:
                rows.append({"source": block["source"], "strategy": arm, **p, "shown": effective_text(p)})
    return rows


def effective_text(point: dict[str, Any]) -> str:
    """``~310 [120, 900]`` or ``beyond the measured range``."""
    if point["status"] != "ok":
        return ("beyond" if point["status"] == "beyond" else "below") + " the measured range"
    lo = "<range" if point["lo"] is None else f"{point['lo']:.0f}"
    hi = ">range" if point["hi"] is None else f"{point['hi']:.0f}"
    return f"~{point['effective_examples']:.0f} [{lo}, {hi}]"


def break_even_row(row: dict[str, Any], scale: float) -> dict[str, Any]:
    """The break-even budget with its range as text, and the per-budget gains."""
    if row["budget"] is None:
        shown = {
            "expensive ahead throughout": "below the smallest budget",
            "cheap not beaten in range": "above the largest budget (or never)",
        }.get(row["status"], "no crossing")
    else:
        lo = "< smallest budget" if row["lo"] is None else f"{row['lo']:.0f}"
        hi = "> largest budget" if row["hi"] is None else f"{row['hi']:.0f}"
        shown = f"~{row['budget']:.0f} labels [{lo}, {hi}]"
    gains = ", ".join(
        f"{g['budget']}: {fmt_interval(g['gain'], g['lo'], g['hi'], scale)} ({g['verdict']})" for g in row["per_budget"]
    )
    return {**row, "shown": shown, "gains": gains}
