"""The monitor's history as one self-contained HTML file: drift and estimated accuracy over time.

Two figures (inline SVG): the drift statistics per batch (MMD² and the domain classifier's AUC,
alerts marked) and the estimated accuracy per batch (each estimator with its interval band, the
measured accuracy with its interval where labels exist, the reference accuracy dashed). Then one
row per batch with its diagnosis and the suggested remedies as commands. It computes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from transferlab.monitor.estimate import ESTIMATORS
from transferlab.monitor.history import History
from transferlab.monitor.profile import load_profile

NAMES = {"confidence": "average confidence", "atc": "ATC", "doc": "DoC", "iw": "importance-weighted"}

TEMPLATE = """<!doctype html><html><head><meta charset="utf-8"><title>monitor: {{ h.arm.arm }}</title>
<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222}
table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px;text-align:right}
th{background:#f3f3f3}td.l{text-align:left}.alert{background:#fde2e1}code{font-size:12px}
.note{color:#555;font-size:14px}</style></head><body>
<h1>Monitor: {{ h.arm.arm }}</h1>
<p><b>{{ summary }}</b></p>
<p class="note">Study {{ h.arm.study }} ({{ h.arm.run_dir }}), seed {{ h.arm.seed }}; source {{ h.source.name }}
(weights {{ h.source.revision }}). Reference: {{ h.reference.n_reference }} held-out examples of the study's test set,
accuracy {{ pct(h.reference.accuracy) }} [{{ pct(h.reference.accuracy_lo) }}, {{ pct(h.reference.accuracy_hi) }}].
Alarms: {{ h.alarms.policy }}.{% if h.calibration %} Calibration on {{ h.calibration.n_batches }} unshifted
pseudo-batches of {{ h.calibration.batch_size }}: {{ h.calibration.alerts }} alerts, rate
{{ "%.3f"|format(h.calibration.false_alarm_rate) }} [{{ "%.3f"|format(h.calibration.lo) }},
{{ "%.3f"|format(h.calibration.hi) }}] at level {{ "%.3g"|format(h.calibration.level) }}.{% endif %}</p>
{% if results %}<h2>Drift</h2>{{ drift|safe }}<h2>Estimated accuracy</h2>{{ accuracy|safe }}
<h2>Batches</h2><table><tr><th>#</th><th>batch</th><th>n</th><th>diagnosis</th><th>MMD p</th>
<th>C2ST AUC</th>
<th>priors p</th>{% for m in estimators %}<th>{{ names[m] }}</th>{% endfor %}<th>measured</th><th>alert</th></tr>
{% for r in results %}<tr class="{{ 'alert' if r.alert else '' }}"><td>{{ r.position }}</td>
<td class="l">{{ r.batch_id }}</td>
<td>{{ r.n }}</td><td class="l">{{ r.diagnosis.label }}</td><td>{{ p(r.tests.mmd.p_value) }}</td>
<td>{{ "%.3f"|format(r.tests.c2st.auc) }}</td><td>{{ p((r.tests.class_priors or {}).p_value) }}</td>
{% for m in estimators %}<td>{{ est(r, m) }}</td>{% endfor %}
<td>{{ measured(r) }}</td><td>{{ 'ALERT' if r.alert else '' }}</td></tr>{% endfor %}</table>
<h2>Remedies</h2>{% set alerted = results|selectattr("alert")|list %}{% if alerted %}{% set r = alerted[-1] %}
<p>For the latest alert, batch {{ r.batch_id }} ({{ r.diagnosis.label }}){% if alerted|length > 1 %}; each of the
{{ alerted|length }} alerts has its own in the history{% endif %}:</p><ul>
{% for x in r.remedies %}<li>{{ x.action }}: {{ x.why }}<br><code>{{ x.command }}</code>
{% if x.spec %}<br>({{ x.spec_file }} holds:)<pre>{{ x.spec }}</pre>{% endif %}</li>{% endfor %}</ul>
{% else %}<p>No batch alerted.</p>{% endif %}
{% else %}<p>No batch checked yet: <code>transferlab monitor check FOLDER --batch FILE</code>.</p>{% endif %}
<h2>What the numbers can and cannot promise</h2><ul class="note">
<li>An alert means the batch's inputs or predicted class mix differ from the reference beyond chance, at the
stated false-alarm rate. No alert is not proof of no shift: small batches detect only large shifts.</li>
<li>Intervals cover sampling error (the batch's and the reference's), not an estimator's bias under shift:
under a large covariate shift every label-free estimate can miss the true accuracy by more than its band.
Average confidence and DoC assume the model stays calibrated; ATC assumes errors stay where confidence is low;
the importance-weighted estimate assumes the batch's inputs lie where the reference has examples (a small
effective sample size says they do not).</li>
<li>Only labels measure accuracy: record them with <code>transferlab monitor label</code>.</li></ul>
</body></html>"""


def monitor_report(monitor: str | Path, out: str | Path | None = None) -> Path:
    """Write the history report (default ``<monitor>/report.html``); returns its path."""
    from transferlab.durable import write_atomic

    profile = load_profile(monitor)
    with History(profile.folder) as history:
        results = history.results()
    path = Path(out).expanduser().resolve() if out else profile.folder / "report.html"
    write_atomic(path, render(profile.header, results))
    return path


def render(header: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """The HTML of a monitor's header and its batches' results."""
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.globals |= {"pct": lambda v: f"{100 * v:.1f}", "p": _p, "est": _estimate_cell, "measured": _measured_cell}
    figures = {"drift": drift_figure(results), "accuracy": accuracy_figure(header, results)} if results else {}
    alerts = sum(r["alert"] for r in results)
    summary = f"{len(results)} batches checked, {alerts} alerted." if results else "No batch checked yet."
    return env.from_string(TEMPLATE).render(
        h=header, results=results, estimators=ESTIMATORS, names=NAMES, summary=summary, **figures
    )


def drift_figure(results: list[dict[str, Any]]) -> str:
    """MMD² and C2ST AUC per batch, alerts as red points."""
    from matplotlib.ticker import MaxNLocator

    from transferlab.report.figures import plt, to_svg

    x = [r["position"] for r in results]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
    for ax, key, field, label in ((axes[0], "mmd", "statistic", "MMD²"), (axes[1], "c2st", "auc", "C2ST AUC")):
        y = [r["tests"][key][field] for r in results]
        ax.plot(x, y, "-o", markersize=3, color="#333")
        alerts = [(a, b) for a, b, r in zip(x, y, results, strict=True) if r["alert"]]
        ax.scatter([a for a, _ in alerts], [b for _, b in alerts], color="#c62828", zorder=3, label="alert")
        ax.set_xlabel("batch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].axhline(0.5, ls="--", color="#999", lw=1)
    axes[0].legend(fontsize=8)
    return to_svg(fig)


def accuracy_figure(header: dict[str, Any], results: list[dict[str, Any]]) -> str:
    """Each estimator with its band, measured accuracy with its interval, the reference dashed, alerts shaded."""
    from matplotlib.ticker import MaxNLocator

    from transferlab.report.figures import plt, to_svg

    x = [r["position"] for r in results]
    fig, ax = plt.subplots(figsize=(10, 3.8))
    for r in results:
        if r["alert"]:
            ax.axvspan(r["position"] - 0.5, r["position"] + 0.5, color="#fde2e1", lw=0)
    for method in ESTIMATORS:
        rows = [next((e for e in r["estimates"] if e["method"] == method), None) for r in results]
        if any(e is None for e in rows):
            continue
        (line,) = ax.plot(x, [e["accuracy"] for e in rows], "-o", markersize=3, label=NAMES[method])
        ax.fill_between(x, [e["lo"] for e in rows], [e["hi"] for e in rows], color=line.get_color(), alpha=0.12)
    labelled = [r for r in results if r.get("measured")]
    if labelled:
        m = [r["measured"] for r in labelled]
        yerr = [[v["accuracy"] - v["lo"] for v in m], [v["hi"] - v["accuracy"] for v in m]]
        ax.errorbar([r["position"] for r in labelled], [v["accuracy"] for v in m], yerr=yerr, fmt="s", color="k",
                    markersize=4, capsize=2, label="measured (labels)")  # fmt: skip
    ax.axhline(header["reference"]["accuracy"], ls="--", color="#777", lw=1, label="reference")
    ax.set_xlabel("batch (shaded: alert)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=3, loc="lower left")
    return to_svg(fig)


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.2g}" if value >= 1e-4 else "<1e-4"


def _estimate_cell(result: dict[str, Any], method: str) -> str:
    e = next((e for e in result["estimates"] if e["method"] == method), None)
    return "-" if e is None else f"{100 * e['accuracy']:.1f} [{100 * e['lo']:.1f}, {100 * e['hi']:.1f}]"


def _measured_cell(result: dict[str, Any]) -> str:
    m = result.get("measured")
    return "-" if not m else f"{100 * m['accuracy']:.1f} [{100 * m['lo']:.1f}, {100 * m['hi']:.1f}]"
