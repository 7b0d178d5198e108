"""The report's sections, in reading order: each a builder over the summary and a template.

``build(summary)`` returns the template's context, or None when the study has nothing for that
section. Adding a section is one entry in ``SECTIONS`` and one file in
``templates/sections/<name>.html``; like the rest of the report, builders only pick and format
numbers that are already in the summary.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from transferlab.report.domain_sections import adaptation, shift, validators
from transferlab.report.figures import cost_plot, curves_by_source, effective_data_plot, learning_curve
from transferlab.report.html import VERDICT_CLASS, fmt_gain, fmt_interval, scale_of
from transferlab.report.ladder_sections import break_even_row, effective_rows, forgetting_rows
from transferlab.report.language_sections import cross_lingual
from transferlab.report.paradigm_sections import episodic, paradigm_line, zero_shot

KIND_CLASS = {"transfer": "pos", "do not transfer": "neg", "equivalent": "eqv", "undecided": "inc"}


@dataclass(frozen=True)
class Section:
    name: str
    build: Callable[[dict[str, Any]], dict[str, Any] | None]


def answer(s: dict[str, Any]) -> dict[str, Any] | None:
    decision = s.get("decision")
    if not decision:
        return None
    per_source: dict[str, list[dict[str, Any]]] = {}
    for a in decision["per_source"]:
        per_source.setdefault(a["scope"], []).append(a | {"css": KIND_CLASS.get(a["kind"], "inc")})
    overall = [a | {"css": KIND_CLASS.get(a["kind"], "inc")} for a in decision["per_budget"]]
    return {"overall": overall, "per_source": per_source, "decision": decision, "counts": s["headline"]}


def matrix(s: dict[str, Any]) -> dict[str, Any] | None:
    """Transfer arms by budget, each cell the gain over that budget's best no-transfer baseline."""
    best = {a["budget"]: a.get("baseline") for a in s.get("decision", {}).get("per_budget", [])}
    scale, rows = scale_of(s), {}
    for e in s["entries"]:
        if e["role"] != "transfer":
            continue
        base = best.get(e["budget"])
        name = (
            None
            if base is None
            else (base["strategy"] if base["source"] == "none" else f"{base['strategy']} ({base['source']})")
        )
        gain = e["gains"].get(name) if name else None
        row = rows.setdefault((e["source"], e["strategy"]), {})
        row[e["budget"]] = (
            None if gain is None else {"text": fmt_gain(gain, scale), "css": VERDICT_CLASS[gain["verdict"]]}
        )
    if not rows:
        return None
    names = s["names"]["short"]
    baselines = {b: (v["strategy"] if v else None) for b, v in best.items()}
    ordered = [{"source": k[0], "strategy": names.get(k[1], k[1]), "cells": v} for k, v in sorted(rows.items())]
    return {"rows": ordered, "budgets": s["budgets"], "baselines": baselines}


def curves(s: dict[str, Any]) -> dict[str, Any] | None:
    names = s["names"]["short"]
    figures = {
        src: learning_curve(src, lines, s["primary_metric"], names)
        for src, lines in curves_by_source(s["entries"]).items()
    }
    context = {"figures": figures, "footnotes": s["names"]["footnotes"], "paradigms": paradigm_line(s["entries"])}
    return context if figures else None


def health(s: dict[str, Any]) -> dict[str, Any] | None:
    block = s.get("health")
    if not block or not block["not_learned"]:
        return None
    return {"block": block, "rows": block["not_learned"]}


def equivalence(s: dict[str, Any]) -> dict[str, Any] | None:
    block = s.get("label_equivalence")
    if not block or not block.get("rows"):
        return None
    names = s["names"]["short"]
    base = block["baseline"]
    return {"block": block, "rows": block["rows"], "baseline": names.get(base["strategy"], base["strategy"])}


def recommendations(s: dict[str, Any]) -> dict[str, Any] | None:
    return {"rows": s["recommendations"]} if s.get("recommendations") else None


def cost(s: dict[str, Any]) -> dict[str, Any] | None:
    trains = [e for e in s["entries"] if e["cost"].get("trainable_params", 0) > 0 and e["labels_used"] > 0]
    return {"svg": cost_plot(s["entries"], s["primary_metric"])} if trains else None


def effective(s: dict[str, Any]) -> dict[str, Any] | None:
    blocks = (s.get("ladder") or {}).get("effective_data", [])
    if not blocks:
        return None
    return {
        "plots": [effective_data_plot(r) for r in blocks if r.get("curve")],
        "notes": [f"{r['source']}: {r['note']}" for r in blocks if r.get("note")],
        "rows": effective_rows(blocks),
    }


def break_even(s: dict[str, Any]) -> dict[str, Any] | None:
    rows = (s.get("ladder") or {}).get("break_even", [])
    return {"rows": [break_even_row(r, scale_of(s)) for r in rows]} if rows else None


def forgetting(s: dict[str, Any]) -> dict[str, Any] | None:
    rows = (s.get("ladder") or {}).get("forgetting", [])
    return {"rows": forgetting_rows(rows)} if rows else None


def table(s: dict[str, Any]) -> dict[str, Any] | None:
    scale, names, rows = scale_of(s), s["names"]["short"], []
    for e in s["entries"]:
        for baseline, g in sorted(e["gains"].items()):
            rows.append(
                {
                    "source": e["source"],
                    "strategy": names.get(e["strategy"], e["strategy"]),
                    "budget": e["budget"],
                    "mean": fmt_interval(e["mean"], e["lo"], e["hi"], scale),
                    "baseline": baseline,
                    "gain": fmt_gain(g, scale),
                    "verdict": g["verdict"]
                    if g.get("baseline_learned", True)
                    else f"{g['verdict']} (baseline did not learn)",
                    "css": VERDICT_CLASS[g["verdict"]] if g.get("baseline_learned", True) else "inc",
                }
            )
    return {"rows": rows} if rows else None


def failures(s: dict[str, Any]) -> dict[str, Any] | None:
    return {} if s.get("failed") or s.get("notes") else None


def glossary(s: dict[str, Any]) -> dict[str, Any] | None:
    return {}


SECTIONS: tuple[Section, ...] = (
    Section("answer", answer),
    Section("matrix", matrix),
    Section("zero_shot", zero_shot),
    Section("shift", shift),
    Section("adaptation", adaptation),
    Section("validators", validators),
    Section("cross_lingual", cross_lingual),
    Section("curves", curves),
    Section("episodic", episodic),
    Section("health", health),
    Section("recommendations", recommendations),
    Section("equivalence", equivalence),
    Section("cost", cost),
    Section("effective", effective),
    Section("break_even", break_even),
    Section("forgetting", forgetting),
    Section("table", table),
    Section("failures", failures),
    Section("glossary", glossary),
)
