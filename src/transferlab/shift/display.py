"""The ``transferlab shift`` printout: one table of tests, BBSE's priors, the bound, the diagnosis."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


def print_shift(payload: dict[str, Any], console: Console) -> None:
    """Print what :func:`transferlab.shift.measure_shift` returned, compactly."""
    console.print(escape(_header(payload)), highlight=False)
    console.print(tests_table(payload))
    if payload["label_shift"] is not None:
        console.print(priors_table(payload))
    if payload["bound"] is not None:
        reading = escape(payload["bound"]["reading"])
        console.print(f"[bold]bound[/bold] (Ben-David et al. 2010): {reading}", highlight=False)
    console.print(f"[bold]diagnosis[/bold]: {_diagnosis_line(payload['diagnosis'])}", highlight=False)
    for note in payload["notes"]:
        console.print(f"[yellow]note[/yellow] {escape(note)}", highlight=False)


def _header(p: dict[str, Any]) -> str:
    def side(role: str) -> str:
        n, total = p[f"n_{role}"], p[f"n_{role}_total"]
        size = f"{n} examples" if n == total else f"{n} of {total} examples"
        return f"{p[f'{role}_data']} ({size}, {'labelled' if p[f'{role}_labelled'] else 'unlabelled'})"

    return f"source data {side('source')} -> target data {side('target')}; features: {p['source']}"


def tests_table(p: dict[str, Any]) -> Table:
    """One row per test: what it asks, its statistic with interval, its p-value and whether it rejects."""
    threshold = p["diagnosis"]["threshold"]
    table = Table("test", "asks", "statistic", "p-value", f"rejects at {threshold:.3g}")
    mmd, c2st = p["mmd"], p["c2st"]
    table.add_row("MMD", "do the inputs differ?", f"MMD² {mmd['statistic']:.4f}", *_p(mmd["p_value"], threshold))
    auc = f"AUC {c2st['auc']:.3f} [{c2st['auc_lo']:.3f}, {c2st['auc_hi']:.3f}]"
    table.add_row("C2ST", "can a classifier tell them apart?", auc, *_p(c2st["p_value"], threshold))
    pad = f"{c2st['pad']:.3f} [{c2st['pad_lo']:.3f}, {c2st['pad_hi']:.3f}]"
    table.add_row("proxy A-distance", "how far apart (0 to 2)?", pad, "-", "-")
    if p["class_priors"] is not None:
        cp = p["class_priors"]
        row = ("did the class mix move?", f"chi2 {cp['chi2']:.1f} ({cp['based_on']})", *_p(cp["p_value"], threshold))
        table.add_row("class priors", *row)
    if p["class_conditional"] is not None:
        cc = p["class_conditional"]
        row = ("beyond the class mix?", f"MMD² {cc['statistic']:.4f}", *_p(cc["p_value"], threshold))
        table.add_row("class-conditional MMD", *row)
    return table


def priors_table(p: dict[str, Any]) -> Table:
    """BBSE per class: source prior, estimated target prior and weight with intervals, measured prior if known."""
    ls = p["label_shift"]
    measured = ls["measured_target_priors"]
    columns = ["class", "source prior", "target prior (BBSE)", "weight p_t/p_s"]
    table = Table(*columns, *(["measured target prior"] if measured else []), title="label shift (BBSE)")
    for j, name in enumerate(ls["classes"]):
        prior = f"{ls['target_priors'][j]:.3f} [{ls['target_priors_lo'][j]:.3f}, {ls['target_priors_hi'][j]:.3f}]"
        weight = f"{ls['weights'][j]:.2f} [{ls['weights_lo'][j]:.2f}, {ls['weights_hi'][j]:.2f}]"
        extra = [f"{measured[j]:.3f}"] if measured else []
        table.add_row(escape(name), f"{ls['source_priors'][j]:.3f}", prior, weight, *extra)
    return table


def _p(p_value: float, threshold: float) -> tuple[str, str]:
    shown = f"{p_value:.2g}" if p_value >= 1e-4 else "<1e-4"
    return shown, "yes" if p_value <= threshold else "no"


def _diagnosis_line(d: dict[str, Any]) -> str:
    """The kind in bold, then the evidence part of the sentence."""
    return f"[bold]{escape(d['label'])}[/bold]" + escape(d["sentence"][len(d["label"]) :])
