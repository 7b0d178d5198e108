"""Table rows of the fine-tuning ladder's sections: effective data, break-even, forgetting."""

from __future__ import annotations

from typing import Any

from transferlab.report.html import fmt_interval


def effective_rows(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One table row per source, transfer arm and budget."""
    rows = []
    for block in blocks:
        for arm, points in sorted(block.get("arms", {}).items()):
            for p in points:
                rows.append({"source": block["source"], "strategy": arm, **p, "shown": effective_text(p)})
    return rows


def effective_text(point: dict[str, Any]) -> str:
    """``~310 [120, 900]``, ``~1900 (extrapolated) [...]`` or ``beyond the measured range``."""
    if point["status"] in ("beyond", "below"):
        return f"{point['status']} the measured range"
    lo = "<range" if point["lo"] is None else f"{point['lo']:.0f}"
    hi = ">range" if point["hi"] is None else f"{point['hi']:.0f}"
    extrapolated = " (extrapolated past the largest budget)" if point["status"] == "extrapolated" else ""
    return f"~{point['effective_examples']:.0f}{extrapolated} [{lo}, {hi}]"


def break_even_row(row: dict[str, Any], scale: float) -> dict[str, Any]:
    """The break-even budget with its range as text, and the per-budget gains."""
    if row["budget"] is None:
        shown = {
            "expensive ahead throughout": "below the smallest budget (ahead at every budget)",
            "cheap not beaten in range": "not reached: the expensive rung is never shown ahead",
        }.get(row["status"], "no clear crossing")
    else:
        lo = "< smallest budget" if row["lo"] is None else f"{row['lo']:.0f}"
        hi = "> largest budget" if row["hi"] is None else f"{row['hi']:.0f}"
        shown = f"~{row['budget']:.0f} labels [{lo}, {hi}]"
    gains = ", ".join(
        f"{g['budget']}: {fmt_interval(g['gain'], g['lo'], g['hi'], scale)} ({g['verdict']})" for g in row["per_budget"]
    )
    return {**row, "shown": shown, "gains": gains}


def forgetting_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Forgetting rows with their figures in percent."""
    return [
        {**r, "shown": f"{r['forgetting'] * 100:+.1f}", "before_pct": r["before"] * 100, "after_pct": r["after"] * 100}
        for r in rows
    ]
