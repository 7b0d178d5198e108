"""A run's outputs: results.parquet (machines), summary.json (machines), report.html (people).

The summary is computed by :mod:`transferlab.analysis.build` from the cells the ledger holds;
the report renders it. The only blocks that need models (the transferability scores) are
computed here, stored in the run directory with the key of their inputs, and reused until
those inputs change, so ``transferlab report`` never embeds again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from transferlab.analysis.build import StudyResults, build_summary
from transferlab.analysis.cells import CellView
from transferlab.data import TaskSplit
from transferlab.sources.base import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.study.domain_cell import domain_summary
from transferlab.study.domain_outputs import shift_blocks, target_arm_params
from transferlab.study.files import write_atomic
from transferlab.study.language_cell import language_view, proba_columns, split_source_rows
from transferlab.study.ledger import Ledger
from transferlab.study.rundir import cell_path
from transferlab.study.spec import StudySpec


@dataclass
class EmbeddingContext:
    """What a run already has for embedding: reused by the transferability block of the summary."""

    cache: EmbeddingCache | None = None
    sources: dict[str, Source] | None = None


def load_cells(out: Path, ledger: Ledger, keys: list[str] | None = None) -> tuple[list[CellView], list[dict]]:
    """Finished cells with their test predictions, and the failed cells' rows."""
    from transferlab.strategies import STRATEGIES, strategy_class

    rows = ledger.rows(keys)
    views = []
    for row in rows:
        if row["status"] != "done" or row["role"] == "episodic":  # episodes: transferlab.study.episodes
            continue
        frame = pd.read_parquet(cell_path(out, row["file"]))  # checked to lie inside out/cells
        frame, source_proba = split_source_rows(frame)  # a cross-lingual study's source test set
        proba = proba_columns(frame)
        name = json.loads(row["payload"])["strategy"]["name"]
        cls = strategy_class(name) if STRATEGIES.is_known(name) else None
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
                trains_backbone=bool(cls and cls.trains_backbone),
                needs_labels=bool(cls is None or cls.needs_labels),
                health=tuple(row.get("health") or ()),
                source_proba=source_proba,
            )
        )
    return views, [r for r in rows if r["status"] == "failed"]


def results_frame(cells: list[CellView]) -> pd.DataFrame:
    """One row per cell and metric (costs included as metrics named ``cost.<name>``)."""
    records = []
    for c in cells:
        values = {**c.metrics, **{f"cost.{k}": v for k, v in c.cost.items()}}
        for metric, value in values.items():
            row = {"source": c.source, "strategy": c.strategy, "role": c.role, "budget": c.budget, "seed": c.seed}
            records.append(row | {"metric": metric, "value": float(value)})
    return pd.DataFrame.from_records(records)


def study_results(
    spec: StudySpec,
    cells: list[CellView],
    failed: list[dict],
    split: TaskSplit,
    notes: list[str],
    extras: dict[str, Any] | None = None,
) -> StudyResults:
    """What the analysis needs, from a spec, its split and the finished cells (``extras``: blocks with models)."""
    task = {
        "dataset": spec.task.dataset,
        "n_train_pool": len(split.train),
        "n_test": len(split.test),
        "classes": list(split.test.classes),
        "modality": split.test.modality,
    }
    params = {a.label: {"name": a.name, "params": a.params} for a in spec.strategies + spec.baselines}
    if split.is_domain:
        task["domains"] = domain_summary(split, spec.task)
        params |= target_arm_params(spec)
    languages = language_view(spec, split) if spec.task.is_language_study else None
    return StudyResults(
        study=spec.name,
        task=task,
        labels=split.test.labels,
        cells=cells,
        budgets=spec.budgets,
        seeds=spec.seed_list,
        primary_metric=spec.primary_metric,
        confidence=spec.confidence,
        min_effect=spec.min_effect,
        equivalence_margin=spec.equivalence_margin,
        failed=[{k: r[k] for k in ("source", "strategy", "budget", "seed", "error")} for r in failed],
        notes=notes,
        params=params,
        extras=extras or {},
        languages=languages,
    )


def with_protocols(results: StudyResults, out: Path, ledger: Ledger, keys: list[str], spec: StudySpec) -> StudyResults:
    """``results`` with what the protocols of :mod:`transferlab.study.protocols` add: the episodic
    cells' per-episode accuracies, and each seed's unseen classes."""
    from dataclasses import replace

    from transferlab.study.episodes import load_episodes
    from transferlab.study.protocols import class_splits

    evaluation = spec.evaluation.model_dump(exclude={"k_shot"}) if spec.evaluation is not None else {}
    episodes = load_episodes(out, ledger, keys) if spec.evaluation is not None else []
    splits = class_splits(spec, tuple(results.task["classes"]))
    return replace(results, episodes=episodes, evaluation=evaluation, class_splits=splits)


def write_outputs(
    out: Path,
    spec: StudySpec,
    ledger: Ledger,
    split: TaskSplit,
    keys: list[str],
    notes: list[str],
    embedding: EmbeddingContext | None = None,
) -> dict[str, Any]:
    """Write results.parquet, summary.json and report.html for the cells of ``keys``.

    When the new summary is byte-identical to the one on disk (a run with nothing left to do),
    the files are left as they are: the report's figures are the slow part to redraw.
    """
    paths = [out / n for n in ("summary.json", "report.html", "results.parquet")]
    digest = outputs_digest(spec, ledger, keys, notes)
    if all(p.is_file() for p in paths) and stored_digest(out) == digest:
        return dict(json.loads(paths[0].read_text(encoding="utf-8")))
    cells, failed = load_cells(out, ledger, keys)
    embedding = embedding or EmbeddingContext()
    extras = {"shift": shift_blocks(out, spec, split, embedding.cache, embedding.sources)} if split.is_domain else {}
    results = with_protocols(study_results(spec, cells, failed, split, notes, extras), out, ledger, keys, spec)
    summary = build_summary(results)
    if spec.transferability:
        summary["transferability"] = transferability_block(out, spec, split, summary["entries"], embedding)
    text = json.dumps(summary, indent=2)
    if not (all(p.is_file() for p in paths) and paths[0].read_text(encoding="utf-8") == text):
        from transferlab.report import render_report

        tmp = out / ".results.parquet.tmp"
        results_frame(cells).to_parquet(tmp, index=False)
        tmp.replace(out / "results.parquet")
        write_atomic(out / "report.html", render_report(summary))
        write_atomic(out / "summary.json", text)  # its presence says the other two are current
    (out / "extras").mkdir(exist_ok=True)
    write_atomic(out / "extras" / "outputs.json", json.dumps({"digest": digest}))
    return summary


def outputs_digest(spec: StudySpec, ledger: Ledger, keys: list[str], notes: list[str]) -> str:
    """What the outputs are a function of: the spec, every planned cell's ledger row, the notes, the code.

    The summary is a deterministic function of these, so when the digest stored with the outputs
    matches, a run with nothing left to do (or ``report`` on an unchanged run) reads the summary
    back instead of loading every cell file and analysing again. The code enters as the size and
    modification time of transferlab's own files: a new version of the analysis recomputes.
    """
    payload = [spec.canonical(), sorted(keys), ledger.rows(keys), notes, code_fingerprint()]
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def code_fingerprint() -> list[tuple[str, int, int]]:
    """(path, size, mtime) of every module, template and bundled spec of the installed transferlab."""
    import transferlab

    root = Path(transferlab.__file__).parent
    files = (p for p in root.rglob("*") if p.suffix in {".py", ".html", ".yaml"})
    return sorted((str(p.relative_to(root)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


def stored_digest(out: Path) -> str | None:
    """The digest written with the run directory's current outputs, if any."""
    try:
        return str(json.loads((out / "extras" / "outputs.json").read_text(encoding="utf-8"))["digest"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def transferability_block(
    out: Path, spec: StudySpec, split: TaskSplit, entries: list[dict[str, Any]], embedding: EmbeddingContext | None
) -> dict[str, Any]:
    """The transferability scores of the study's sources, reused from the run directory when current."""
    from transferlab.errors import InputError
    from transferlab.ranking import study_outcomes, study_transferability

    try:
        outcomes = study_outcomes(entries)
    except InputError as exc:
        outcomes = {"error": str(exc)}
    inputs = [spec.transferability, [a.label for a in spec.sources], split.train.fingerprint, outcomes]
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()[:24]
    stored = out / "extras" / "transferability.json"
    if stored.is_file():
        saved = json.loads(stored.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return saved["block"]
    embedding = embedding or EmbeddingContext()
    block = study_transferability(spec, split, entries, cache=embedding.cache, sources=embedding.sources)
    stored.parent.mkdir(exist_ok=True)
    write_atomic(stored, json.dumps({"key": key, "block": block}, indent=2))
    return block
