"""The report's section of a cross-lingual study: the controls, the transfer matrices, gaps and label prices.

The builder only picks and formats what the summary's ``cross_lingual`` block holds; a study
without languages has no such block and gets no section.
"""

from __future__ import annotations

from typing import Any

from transferlab.report.html import VERDICT_CLASS, fmt_gain, fmt_interval

KIND_TEXT = {
    "multilingual": "multilingual: trained on every language of this study",
    "control": "control: never trained on the target language",
    "partial": "trained on some of the target languages only",
    "not declared": "its languages are not declared",
}


def cross_lingual(s: dict[str, Any]) -> dict[str, Any] | None:
    block = s.get("cross_lingual")
    if not block:
        return None
    names = s["names"]["short"]
    kinds = block["multilinguality"]["kinds"]
    sources = [
        {
            "source": e["source"],
            "kind": KIND_TEXT.get(kinds.get(e["source"], "not declared"), ""),
            "matrices": [_matrix(m, names) for m in e["matrices"]],
            "equivalence": _equivalence(e.get("equivalence"), names, block),
        }
        for e in block["sources"]
    ]
    return {
        "block": block,
        "sentence": block["multilinguality"]["sentence"],
        "label_map": _label_map(block.get("label_map")),
        "sources": sources,
        "multilinguality": [_multilingual_row(r) for r in block["multilinguality"]["rows"]],
        "notes": block["notes"],
    }


def _label_map(label_map: dict[str, str | None] | None) -> str | None:
    if not label_map:
        return None
    kept = [f"{k} → {v}" for k, v in label_map.items() if v is not None]
    dropped = [k for k, v in label_map.items() if v is None]
    return ", ".join(kept) + (f"; dropped: {', '.join(dropped)}" if dropped else "")


def _matrix(m: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    rows = [
        {
            "labels": r["labels"],
            "arm": names.get(r["arm"], r["arm"]),
            "cells": [_cell(r["cells"].get(c)) for c in m["columns"]],
        }
        for r in m["rows"]
    ]
    gaps = [
        {
            "kind": "one model, two test sets" if g["kind"] == "model" else "one test set, two models",
            "text": g["text"],
            "gap": fmt_gain(g["gap"]),
            "verdict": g["gap"]["verdict"],
            "css": VERDICT_CLASS[g["gap"]["verdict"]],
        }
        for g in m["gaps"]
    ]
    return {"budget": m["budget"], "columns": m["columns"], "rows": rows, "gaps": gaps}


def _cell(cell: dict[str, Any] | None) -> str:
    return "–" if cell is None else fmt_interval(cell["accuracy"], cell["lo"], cell["hi"])


def _equivalence(block: dict[str, Any] | None, names: dict[str, str], xl: dict[str, Any]) -> dict[str, Any] | None:
    if not block or not block["rows"]:
        return None
    rows = [
        {
            "strategy": names.get(r["strategy"], r["strategy"]),
            "budget": r["budget"],
            "accuracy": f"{r['accuracy'] * 100:.1f}",
            "text": r["text"],
        }
        for r in block["rows"]
    ]
    return {"rows": rows, "learned": block["curve_learned"], "target": "+".join(xl["target_languages"])}


def _multilingual_row(r: dict[str, Any]) -> dict[str, Any]:
    gain, reduction = r["cross_lingual_gain"], r["gap_reduction"]
    return {
        "budget": r["budget"],
        "source": r["source"],
        "control": r["control"],
        "gain": fmt_gain(gain),
        "gain_verdict": gain["verdict"],
        "gain_css": VERDICT_CLASS[gain["verdict"]],
        "reduction": "–" if reduction is None else fmt_gain(reduction),
        "reduction_verdict": "–" if reduction is None else reduction["verdict"],
        "reduction_css": "" if reduction is None else VERDICT_CLASS[reduction["verdict"]],
    }
