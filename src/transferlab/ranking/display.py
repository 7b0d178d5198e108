"""Rich tables of a ranking and of its validation (what ``transferlab rank`` prints)."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from transferlab.ranking.rank import RankResult


def _score(value: float | None, std: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}" if std is None else f"{value:.3g}±{std:.1g}"


def _maybe(value: float | None, fmt: str) -> str:
    return "-" if value is None else format(value, fmt)


def rank_table(result: RankResult) -> Table:
    """One row per candidate, best first: scores ± bootstrap std, consensus, P(best), seconds.

    Scores no candidate has (LEEP and NCE without a source classifier) are left out; the caption
    names them.
    """
    shown = [m for m in result.metrics if any(r.scores.get(m) is not None for r in result.rows)]
    missing = [m for m in result.metrics if m not in shown]
    title = f"{result.task}: {result.n_examples} examples, {result.n_classes} classes"
    caption = f"score±bootstrap std ({result.n_boot} replicates); mean rank over {', '.join(result.consensus_metrics)}"
    if missing:
        caption += f"; no value for any candidate: {', '.join(missing)}"
    table = Table("rank", "source", "layer", *shown, "mean rank", "P(best)", "s", title=title, caption=caption)
    for r in result.rows:
        scores = [_score(r.scores.get(m), r.std.get(m)) for m in shown]
        seconds = f"{r.embed_seconds + r.score_seconds:.1f}"
        table.add_row(
            str(r.rank), r.source, r.layer, *scores, _maybe(r.mean_rank, ".2f"), _maybe(r.p_best, ".2f"), seconds
        )
    return table


def validation_table(validation: dict[str, Any]) -> Table:
    """Per score: how its ranking agrees with the study's outcomes."""
    title = (
        f"agreement with {validation['run_dir']} (budget {validation['budget']}, "
        f"outcome = best of {', '.join(validation['strategies'])}; {len(validation['sources'])} sources)"
    )
    table = Table("score", "n", "Kendall tau", "weighted tau", "top-1 hit", title=title)
    for metric, row in validation["metrics"].items():
        hit = "-" if row["top1_hit"] is None else ("yes" if row["top1_hit"] else "no")
        table.add_row(
            metric, str(row["n"]), _maybe(row["kendall_tau"], "+.2f"), _maybe(row["weighted_tau"], "+.2f"), hit
        )
    return table
