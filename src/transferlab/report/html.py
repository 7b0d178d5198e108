"""The self-contained HTML report: the answer first, then the evidence, then the full tables."""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape

VERDICT_CLASS = {"positive": "pos", "negative": "neg", "inconclusive": "inc"}


def fmt_interval(value: float, lo: float | None, hi: float | None, scale: float = 100.0) -> str:
    """``0.853 [0.82, 0.88]`` as percentage points by default: ``85.3 [82.0, 88.0]``."""
    if lo is None or hi is None:
        return f"{value * scale:.1f}"
    return f"{value * scale:.1f} [{lo * scale:.1f}, {hi * scale:.1f}]"


def fmt_gain(gain: dict[str, Any], scale: float = 100.0) -> str:
    """``+6.9 [+2.7, +11.1]``."""
    return f"{gain['gain'] * scale:+.1f} [{gain['lo'] * scale:+.1f}, {gain['hi'] * scale:+.1f}]"


def scale_of(summary: dict[str, Any]) -> float:
    """Accuracy is shown in percent (points), other metrics as they are."""
    return 100.0 if summary["primary_metric"] == "accuracy" else 1.0


def render_report(summary: dict[str, Any]) -> str:
    """The report as one HTML string (figures inline as SVG, no external resource)."""
    from transferlab.report.sections import SECTIONS

    env = Environment(loader=PackageLoader("transferlab.report", "templates"), autoescape=select_autoescape())
    rendered = []
    for section in SECTIONS:
        context = section.build(summary)
        if context is not None:
            template = env.get_template(f"sections/{section.name}.html")
            rendered.append(template.render(s=summary, x=context, names=summary["names"]["short"]))
    return env.get_template("report.html").render(s=summary, sections=rendered)
