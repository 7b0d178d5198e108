"""Outputs of a run: results.parquet (machines), summary.json (machines), report.html (people)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transferlab.analysis.ladder import ladder_summary
from transferlab.analysis.recommend import recommend
from transferlab.analysis.summary import CellView, summarise
from transferlab.data import TaskSplit
from transferlab.sources.base import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.study.ledger import Ledger
from transferlab.study.spec import StudySpec


def load_cells(out: Path, ledger: Ledger, keys: list[str] | None = None) -> tuple[list[CellView], list[dict]]:
    """Finished cells with their test predictions, and the failed cells' rows."""
    rows = ledger.rows(keys)
    views = []
    for row in rows:
        if row["status"] != "done":
            continue
        frame = pd.read_parquet(out / row["file"])
        proba = frame[[c for c in frame.columns if c.startswith("p") and c[1:].isdigit()]].to_numpy(np.float64)
        views.append(
            CellView(
                row["source"],
                row["strategy"],
                row["budget"],
                row["seed"],
                row["role"],
                row["metrics"],
                row["cost"],
                proba,
            )
        )
    return views, [r for r in rows if r["status"] == "failed"]


def results_frame(cells: list[CellView]) -> pd.DataFrame:
    """One row per cell and metric (costs included as metrics named ``cost.<name>``)."""
    records = []
    for c in cells:
        values = {**c.metrics, **{f"cost.{k}": v for k, v in c.cost.items()}}
        for metric, value in values.items():
            records.append(
                {
                    "source": c.source,
                    "strategy": c.strategy,
                    "role": c.role,
                    "budget": c.budget,
                    "seed": c.seed,
                }
                | {"metric": metric, "value": float(value)}
            )
    return pd.DataFrame.from_records(records)


def build_summary(
    spec: StudySpec,
    cells: list[CellView],
    failed: list[dict],
    split: TaskSplit,
    notes: list[str],
    embedding: EmbeddingContext | None = None,
) -> dict[str, Any]:
    """The content of summary.json (``embedding``: the study's cache and built sources, for its scores)."""
    entries = summarise(cells, split.test.labels, spec.budgets, spec.primary_metric, spec.confidence, spec.min_effect)
    summary = {
        "study": spec.name,
        "task": {
            "dataset": spec.task.dataset,
            "n_train_pool": len(split.train),
            "n_test": len(split.test),
            "classes": list(split.test.classes),
            "modality": split.test.modality,
        },
        "primary_metric": spec.primary_metric,
        "confidence": spec.confidence,
        "min_effect": spec.min_effect,
        "budgets": spec.budgets,
        "seeds": spec.seed_list,
        "entries": entries,
        "failed": [
            {
                "source": r["source"],
                "strategy": r["strategy"],
                "budget": r["budget"],
                "seed": r["seed"],
                "error": r["error"],
            }
            for r in failed
        ],
        "notes": notes,
    }
    summary["ladder"] = ladder_summary(cells, split.test.labels, spec.primary_metric, spec.confidence, spec.min_effect)
    summary["recommendations"] = recommend(summary)
    if spec.transferability:
        from transferlab.ranking import study_transferability

        embedding = embedding or EmbeddingContext()
        summary["transferability"] = study_transferability(
            spec, split, entries, cache=embedding.cache, sources=embedding.sources
        )
    return summary


@dataclass
class EmbeddingContext:
    """What a run already has for embedding: reused by the transferability block of the summary."""

    cache: EmbeddingCache | None = None
    sources: dict[str, Source] | None = None


def write_outputs(
    out: Path,
    spec: StudySpec,
    ledger: Ledger,
    split: TaskSplit,
    keys: list[str],
    notes: list[str],
    embedding: EmbeddingContext | None = None,
) -> dict[str, Any]:
    """Write results.parquet, summary.json and report.html for the cells of ``keys``."""
    from transferlab.report.html import render_report
    from transferlab.study.runner import write_atomic

    cells, failed = load_cells(out, ledger, keys)
    frame = results_frame(cells)
    tmp = out / ".results.parquet.tmp"
    frame.to_parquet(tmp, index=False)
    tmp.replace(out / "results.parquet")
    summary = build_summary(spec, cells, failed, split, notes, embedding)
    write_atomic(out / "summary.json", json.dumps(summary, indent=2))
    write_atomic(out / "report.html", render_report(summary))
    return summary
