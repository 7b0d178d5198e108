"""The report: renders a finished summary (summary.json) as one self-contained HTML file.

It computes nothing and trains nothing: every number it shows is in the summary.
"""

from transferlab.report.html import render_report

__all__ = ["render_report"]
