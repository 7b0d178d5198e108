"""Report sections of the two protocols (:mod:`transferlab.study.protocols`): unseen classes and
few-shot episodes. Like every section they only format numbers the summary already holds."""

from __future__ import annotations

from typing import Any

from transferlab.report.html import VERDICT_CLASS, fmt_gain, fmt_interval


def _mean(block: dict[str, Any]) -> str:
    return fmt_interval(block["mean"], block["lo"], block["hi"])


def _gain(gain: dict[str, Any] | None) -> dict[str, str] | None:
    if gain is None:
        return None
    text = fmt_gain(gain) if gain["lo"] is not None else f"{gain['gain'] * 100:+.1f} (one split: no interval)"
    return {"text": text, "verdict": gain["verdict"], "css": VERDICT_CLASS[gain["verdict"]]}


def zero_shot(s: dict[str, Any]) -> dict[str, Any] | None:
    """Seen and unseen accuracy per arm, against chance and against the random-text control."""
    block = s.get("zero_shot")
    if not block:
        return None
    names, rows = s["names"]["short"], []
    for r in block["rows"]:
        controls = [{"name": names.get(k, k)} | (_gain(g) or {}) for k, g in sorted(r["unseen_vs"].items())]
        rows.append(
            {
                "source": r["source"],
                "strategy": names.get(r["strategy"], r["strategy"]),
                "budget": r["budget"],
                "n_splits": r["n_splits"],
                "seen": _mean(r["seen"]),
                "unseen": _mean(r["unseen"]),
                "chance": f"{r['chance_unseen'] * 100:.1f}",
                "vs_chance": _gain(r["unseen_vs_chance"]),
                "controls": controls,
                "gzsl": " / ".join(f"{r[m]['mean'] * 100:.1f}" for m in ("gzsl_seen", "gzsl_unseen", "gzsl_h")),
            }
        )
    splits = [f"seed {seed}: {', '.join(unseen)}" for seed, unseen in block["unseen_by_seed"].items()]
    return {"rows": rows, "splits": splits, "block": block}


def episodic(s: dict[str, Any]) -> dict[str, Any] | None:
    """Mean accuracy over few-shot episodes per arm and K, and its paired gain over prototype."""
    block = s.get("episodic")
    if not block:
        return None
    names, rows = s["names"]["short"], []
    for r in block["rows"]:
        rows.append(
            {
                "source": r["source"],
                "strategy": names.get(r["strategy"], r["strategy"]),
                "shots": r["shots"],
                "accuracy": fmt_interval(r["mean"], r["lo"], r["hi"]),
                "episodes": r["n_episodes"],
                "vs": r["vs"],
                "gain": _gain(r["gain"]),
            }
        )
    settings = block["settings"]
    return {"rows": rows, "settings": settings, "chance": 100.0 / settings["n_way"], "block": block}


# The neighbouring paradigms, as the field names them (the glossary says what each family is).
PARADIGMS = (
    ("representation learning", ("linear-probe", "knn")),
    ("meta-learning (prototypical networks)", ("prototype",)),
    ("fine-tuning", ("finetune", "finetune-top-k", "lp-ft", "lora", "l2-sp", "bss")),
    ("in-context learning", ("in-context",)),
    ("zero-shot transfer", ("zero-shot", "devise")),
    ("cross-modal transfer", ("fpt", "devise")),
)


def paradigm_line(entries: list[dict[str, Any]]) -> str | None:
    """One sentence naming the paradigms of the arms a study ran, or None when it ran none of them."""
    present = {e["strategy_name"] for e in entries}
    parts = []
    for name, members in PARADIGMS:
        found = [m for m in members if m in present]
        if found:
            parts.append(f"{name}: {', '.join(found)}")
    return "The arms as the field names them: " + "; ".join(parts) + "." if parts else None
