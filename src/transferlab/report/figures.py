"""Figures for the report, rendered to inline SVG (the HTML file stays self-contained)."""

from __future__ import annotations

import io
import math
from collections import defaultdict
from typing import Any

import matplotlib
import numpy as np

matplotlib.use("Agg")
matplotlib.rcParams["svg.hashsalt"] = "transferlab"  # fixed element ids: the same summary, the same bytes
# figure text is user data (class names, arm labels, templates): "$...$" in it is text, not mathtext
matplotlib.rcParams["text.parse_math"] = False
import matplotlib.pyplot as plt  # noqa: E402


def plain_ticks(axis: Any) -> None:
    """Log-axis tick labels as plain numbers (mathtext is off, so 10^k would print as raw TeX)."""
    from matplotlib.ticker import FuncFormatter, NullFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
    axis.set_minor_formatter(NullFormatter())


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


def learning_curve(source: str, lines: dict[str, list[dict[str, Any]]], metric: str, names: dict[str, str]) -> str:
    """Metric against budget: one line per strategy with its interval band, baselines dashed.

    ``names`` maps arm labels to the short names of the legend (parameters go in a footnote).
    """
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    for label, points in sorted(lines.items()):
        x = [p["budget"] for p in points]
        y = [p["mean"] for p in points]
        style = "--" if points[0]["role"] == "baseline" else "-"
        (line,) = ax.plot(x, y, style, marker="o", markersize=3, label=names.get(label, label))
        if all(p["lo"] is not None for p in points):
            ax.fill_between(x, [p["lo"] for p in points], [p["hi"] for p in points], color=line.get_color(), alpha=0.15)
    ax.set_xscale("log", base=2)
    budgets = sorted({p["budget"] for points in lines.values() for p in points})
    ax.set_xticks(budgets, [str(b) for b in budgets])  # the budgets themselves, not 2^k in mathtext
    ax.minorticks_off()
    ax.set_xlabel("labelled training examples (budget)")
    ax.set_ylabel(metric)
    ax.set_title(f"{source}: {metric} vs budget (bands: 95% intervals)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right", ncol=2 if len(lines) > 6 else 1)
    return to_svg(fig)


def _strategy_colours(labels: list[str]) -> dict[str, Any]:
    cmap = plt.get_cmap("tab10" if len(labels) <= 10 else "tab20")
    return {label: cmap(i % cmap.N) for i, label in enumerate(sorted(labels))}


def cost_plot(entries: list[dict[str, Any]], metric: str) -> str:
    """Metric against cost, one point per strategy and budget: fit seconds and trainable parameters (log x)."""
    points = [e for e in entries if e["labels_used"] > 0 and "fit_seconds" in e["cost"]]
    colours = _strategy_colours(list({e["strategy"] for e in points}))
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.0), sharey=True)
    for ax, key, label in (
        (axes[0], "fit_seconds", "fit seconds (log)"),
        (axes[1], "trainable_params", "trainable parameters (log; 0 drawn at 1)"),
    ):
        for strategy in sorted(colours):
            mine = sorted((e for e in points if e["strategy"] == strategy), key=lambda e: e["budget"])
            x = [max(e["cost"].get(key, 0.0), 1e-3 if key == "fit_seconds" else 1.0) for e in mine]
            y = [e["mean"] for e in mine]
            sizes = [12 + 6 * math.log2(max(e["budget"], 1)) for e in mine]
            ax.scatter(x, y, s=sizes, color=colours[strategy], label=strategy, alpha=0.8)
            for xi, yi, e in zip(x, y, mine, strict=True):
                ax.annotate(str(e["budget"]), (xi, yi), fontsize=6, xytext=(3, 2), textcoords="offset points")
        ax.set_xscale("log")
        plain_ticks(ax.xaxis)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(metric)
    axes[1].legend(fontsize=7, loc="lower right")
    fig.suptitle(f"{metric} against cost (label = budget; larger marker = larger budget)", fontsize=10)
    return to_svg(fig)


def effective_data_plot(row: dict[str, Any]) -> str:
    """Left: the fitted from-scratch curve. Right: examples from scratch matching each transfer arm."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.0, 4.0))
    curve, scratch = row["curve"], row["scratch"]
    for budget, accs in scratch.items():
        left.scatter([float(budget)] * len(accs), accs, color="grey", s=12)
    grid = np.geomspace(curve["n_min"] / 2, curve["n_max"] * 4, 100)
    left.plot(grid, 1 - (curve["a"] * grid ** (-curve["b"]) + curve["c"]), color="black", lw=1)
    left.axhline(1 - curve["c"], color="black", ls=":", lw=0.8, label="fitted asymptote")
    left.set_xscale("log")
    plain_ticks(left.xaxis)
    left.set_ylim(0.0, 1.0)
    left.set_xlabel("labelled examples, from scratch")
    left.set_ylabel("accuracy")
    left.set_title(f"{row['source']}: from-scratch curve, err = a·n^-b + c", fontsize=9)
    left.legend(fontsize=7)
    cap = 4 * curve["n_max"]
    colours = _strategy_colours(list(row["arms"]))
    for arm, points in sorted(row["arms"].items()):
        _effective_arm(right, points, cap, colours[arm], arm)
    budgets = sorted({p["budget"] for points in row["arms"].values() for p in points})
    if budgets:
        right.plot(budgets, budgets, ls="--", color="grey", lw=0.8, label="no transfer (y = x)")
    right.axhline(cap, color="red", ls=":", lw=0.8, label="beyond the measured range")
    right.set_xscale("log")
    plain_ticks(right.xaxis)
    right.set_yscale("log")
    plain_ticks(right.yaxis)
    right.set_xlabel("labelled budget of the transfer arm")
    right.set_ylabel("examples from scratch for the same accuracy")
    right.set_title("effective data (95% bootstrap intervals; ▲ = beyond range)", fontsize=9)
    right.grid(alpha=0.3)
    right.legend(fontsize=7, loc="upper left")
    return to_svg(fig)


def _effective_arm(ax: Any, points: list[dict[str, Any]], cap: float, colour: Any, label: str) -> None:
    ok = [p for p in points if p["status"] == "ok"]
    beyond = [p for p in points if p["status"] == "beyond"]
    if ok:
        y = np.array([p["effective_examples"] for p in ok])
        lo = np.array([p["lo"] if p["lo"] is not None else 0.0 for p in ok])
        hi = np.array([p["hi"] if p["hi"] is not None else cap for p in ok])
        yerr = np.vstack([np.clip(y - lo, 0, None), np.clip(hi - y, 0, None)])
        ax.errorbar([p["budget"] for p in ok], y, yerr=yerr, fmt="o-", ms=4, color=colour, label=label, capsize=2)
    if beyond:
        ax.scatter([p["budget"] for p in beyond], [cap] * len(beyond), marker="^", color=colour, s=30)
        if not ok:
            ax.scatter([], [], marker="^", color=colour, label=label)
