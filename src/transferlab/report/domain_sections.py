"""The report's sections of a domain study: the shift, each adaptation method's gain, the validators.

Builders only pick and format what summary.json holds (``task.domains``, ``shift``,
``adaptation``, ``validators``); a study without domains has none of them and gets no section.
"""

from __future__ import annotations

from typing import Any

from transferlab.report.html import VERDICT_CLASS, fmt_gain, fmt_interval


def shift(s: dict[str, Any]) -> dict[str, Any] | None:
    blocks = s.get("shift")
    if not blocks:
        return None
    return {"domains": s["task"]["domains"], "sources": [_shift_source(n, b) for n, b in blocks.items()]}


def _shift_source(name: str, b: dict[str, Any]) -> dict[str, Any]:
    if "error" in b:
        return {"source": name, "error": b["error"]}
    threshold = b["diagnosis"]["threshold"]
    mmd, c2st = b["mmd"], b["c2st"]
    tests = [
        ("MMD (permutation test)", "do the inputs differ?", f"MMD² {mmd['statistic']:.4f}", mmd["p_value"]),
        ("classifier two-sample test", "can a classifier tell them apart?", _ci("AUC", c2st, "auc"), c2st["p_value"]),
        ("proxy A-distance", "how far apart (0 to 2)?", _ci("", c2st, "pad"), None),
    ]
    if b.get("class_priors"):
        cp = b["class_priors"]
        tests.append(
            ("class priors", "did the class mix move?", f"chi² {cp['chi2']:.1f} ({cp['based_on']})", cp["p_value"])
        )
    if b.get("class_conditional"):
        cc = b["class_conditional"]
        tests.append(("class-conditional MMD", "beyond the class mix?", f"MMD² {cc['statistic']:.4f}", cc["p_value"]))
    rows = [{"test": t, "asks": a, "statistic": st, **_p(p, threshold)} for t, a, st, p in tests]
    return {
        "source": name,
        "n_source": b["n_source"],
        "n_target": b["n_target"],
        "threshold": threshold,
        "tests": rows,
        "priors": _priors(b.get("label_shift")),
        "bound": _bound(b.get("bound")),
        "diagnosis": b["diagnosis"],
        "notes": b.get("notes", []),
    }


def _ci(label: str, block: dict[str, Any], key: str) -> str:
    value = f"{block[key]:.3f} [{block[key + '_lo']:.3f}, {block[key + '_hi']:.3f}]"
    return f"{label} {value}".strip()


def _p(p_value: float | None, threshold: float) -> dict[str, str]:
    if p_value is None:
        return {"p": "–", "rejects": "–", "css": ""}
    shown = f"{p_value:.2g}" if p_value >= 1e-4 else "<1e-4"
    rejects = p_value <= threshold
    return {"p": shown, "rejects": "yes" if rejects else "no", "css": "neg" if rejects else ""}


def _priors(ls: dict[str, Any] | None) -> list[dict[str, str]] | None:
    if not ls:
        return None
    measured = ls.get("measured_target_priors")
    return [
        {
            "cls": name,
            "source": f"{ls['source_priors'][j]:.3f}",
            "bbse": f"{ls['target_priors'][j]:.3f} [{ls['target_priors_lo'][j]:.3f}, {ls['target_priors_hi'][j]:.3f}]",
            "weight": f"{ls['weights'][j]:.2f} [{ls['weights_lo'][j]:.2f}, {ls['weights_hi'][j]:.2f}]",
            "measured": "–" if measured is None else f"{measured[j]:.3f}",
        }
        for j, name in enumerate(ls["classes"])
    ]


def _bound(bound: dict[str, Any] | None) -> dict[str, Any] | None:
    if not bound:
        return None

    def term(value: float | None, interval: list[float] | None) -> str:
        if value is None:
            return "unknown (needs target labels)"
        return f"{value:.3f}" if interval is None else f"{value:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"

    terms = [
        ("source error", term(bound["source_error"], bound["source_error_interval"])),
        ("½ divergence (proxy A-distance)", term(bound["divergence"], bound["divergence_interval"])),
        ("λ, ideal joint error", term(bound["joint_error"], bound["joint_error_interval"])),
        ("bound on the target error", term(bound["bound"], bound["bound_interval"])),
        ("measured target error", term(bound["target_error"], bound["target_error_interval"])),
        (f"chance error ({bound['chance_basis']})", f"{bound['chance_error']:.3f}"),
    ]
    css = {"informative": "pos", "vacuous": "neg", "borderline": "inc"}.get(bound["status"], "inc")
    return {"terms": terms, "status": bound["status"], "css": css, "reading": bound["reading"]}


def adaptation(s: dict[str, Any]) -> dict[str, Any] | None:
    block = s.get("adaptation")
    if not block or not block["groups"]:
        return None
    names = s["names"]["short"]
    tables = [
        {
            "source": g["source"],
            "budget": g["budget"],
            "target_budget": g["target_budget"],
            "rows": [_adaptation_row(r, names) for r in g["rows"]],
        }
        for g in block["groups"]
    ]
    return {"tables": tables, "footnotes": s["names"]["footnotes"]}


def _adaptation_row(r: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    gain = r["gain"]
    return {
        "strategy": names.get(r["strategy"], r["strategy"]),
        "accuracy": fmt_interval(r["accuracy"], r["lo"], r["hi"]),
        "per_seed": ", ".join(f"{a * 100:.1f}" for a in r["per_seed"]),
        "spread": "–" if r["seed_sd"] is None else f"{r['seed_sd'] * 100:.1f}",
        "reference": names.get(r["reference"], r["reference"]) if r["reference"] else "(reference)",
        "gain": fmt_gain(gain) if gain else "–",
        "verdict": gain["verdict"] if gain else "–",
        "css": VERDICT_CLASS[gain["verdict"]] if gain else "",
        "flags": ", ".join(r["flags"]) if r["flags"] else "",
    }


def validators(s: dict[str, Any]) -> dict[str, Any] | None:
    block = s.get("validators")
    if not block or not block["sources"]:
        return None
    names = s["names"]["short"]
    return {"sources": [_validator_source(src, names) for src in block["sources"]]}


def _validator_source(src: dict[str, Any], names: dict[str, str]) -> dict[str, Any]:
    def picks(counts: dict[str, int]) -> str:
        return ", ".join(f"{names.get(a, a)} ×{n}" for a, n in counts.items())

    rows = [
        {
            "validator": r["validator"],
            "picks": picks(r["picks"]),
            "best": f"{r['n_best']} of {r['n']} [{r['best_share_lo'] * 100:.0f}%, {r['best_share_hi'] * 100:.0f}%]",
            "lost": f"{r['lost'] * 100:.1f} [{r['lost_lo'] * 100:.1f}, {r['lost_hi'] * 100:.1f}]",
        }
        for r in src["rows"]
    ]
    return {
        "source": src["source"],
        "n": src["n_selections"],
        "oracle": picks(src["best_by_target_labels"]),
        "rows": rows,
        "recommendation": src["recommendation"],
    }
