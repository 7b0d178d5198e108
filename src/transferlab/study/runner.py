"""The study driver: validate, plan, run what the ledger lacks, then analyse and report.

Everything that can fail on bad input (spec, data, budgets, names, parameters) is checked
before the run directory is touched, so a bad spec never leaves a half-written run behind.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from transferlab.data import TaskSplit, check_budget
from transferlab.errors import InputError
from transferlab.sources import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies import create_strategy
from transferlab.study.cell import CellResult, load_split
from transferlab.study.environment import environment
from transferlab.study.executor import EXECUTORS, LocalExecutor
from transferlab.study.ledger import Ledger
from transferlab.study.planner import Cell, cell_to_row, plan_cells
from transferlab.study.preflight import build_sources, check_arms
from transferlab.study.progress import CellProgress
from transferlab.study.spec import StudySpec


@dataclass
class RunResult:
    """What a run did: counts, timings and where its outputs are."""

    out: Path
    n_cells: int
    ran: int
    skipped: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass
class Validated:
    """A spec checked against its data and sources: what running it needs."""

    split: TaskSplit
    cells: list[Cell]
    notes: list[str]
    sources: dict[str, Source]


def validate(spec: StudySpec) -> Validated:
    """Load the task and sources and plan the cells, raising :class:`InputError` on anything a cell would trip on."""
    split, cells, notes = plan(spec)
    sources = build_sources(spec)
    check_arms(spec, split.train.modality, sources)
    return Validated(split, cells, notes, sources)


def plan(spec: StudySpec) -> tuple[TaskSplit, list[Cell], list[str]]:
    """Load the task and plan the cells (the checks that need no source built)."""
    split = load_split(spec.task)
    per_class = spec.budget_unit == "per_class"
    for budget in spec.budgets:
        check_budget(split.train.labels, budget, per_class)
    for arm in spec.strategies + spec.baselines:
        create_strategy(arm.name, **arm.params)
    cells, notes = plan_cells(spec, split.train.fingerprint + split.test.fingerprint, split.train.modality)
    if not cells:
        raise InputError(f"the spec plans no cells: {'; '.join(notes) or 'no strategy applies'}")
    return split, cells, notes


def run_study(
    spec: StudySpec, out: str | Path, cache: EmbeddingCache | None = None, progress: bool = True
) -> RunResult:
    """Run (or continue) ``spec`` into the run directory ``out`` and write its report."""
    start = time.perf_counter()
    checked = validate(spec)
    split, cells, notes = checked.split, checked.cells, checked.notes
    out = prepare_run_dir(Path(out), spec)
    cache = cache or EmbeddingCache()
    ledger = Ledger(out / "ledger.sqlite")
    try:
        ledger.add_cells([cell_to_row(c) for c in cells])
        todo = [c for c in cells if ledger.status(c.key) != "done"]
        result = RunResult(out, len(cells), len(todo), len(cells) - len(todo), notes=notes)
        _execute(spec, todo, ledger, out, cache, result, progress, checked.sources)
        result.seconds["embed"] = cache.embed_seconds
        analyse_start = time.perf_counter()
        from transferlab.report import EmbeddingContext, write_outputs

        embedding = EmbeddingContext(cache, checked.sources)
        write_outputs(out, spec, ledger, split, [c.key for c in cells], notes, embedding)
        result.seconds["analyse"] = time.perf_counter() - analyse_start
    finally:
        ledger.close()
    result.seconds["total"] = time.perf_counter() - start
    return result


def _execute(
    spec: StudySpec,
    todo: list[Cell],
    ledger: Ledger,
    out: Path,
    cache: EmbeddingCache,
    result: RunResult,
    show: bool,
    sources: dict[str, Source],
) -> None:
    executor = (
        LocalExecutor(spec.workers, cache, sources) if spec.executor == "local" else EXECUTORS.create(spec.executor)
    )
    train_seconds = 0.0
    with CellProgress(len(todo), enabled=show) as bar:

        def start(cell: Cell) -> None:
            ledger.mark_running(cell.key)
            bar.describe(cell.describe())

        for cell, outcome in executor.run(spec, todo, start):
            if isinstance(outcome, str):
                ledger.mark_failed(cell.key, outcome)
                result.failed.append((cell.describe(), outcome))
            else:
                ledger.mark_done(cell.key, outcome.metrics, outcome.cost, write_cell_file(out, cell, outcome))
                train_seconds += outcome.cost["fit_seconds"]
            bar.advance()
    result.seconds["train"] = train_seconds


def prepare_run_dir(out: Path, spec: StudySpec) -> Path:
    """Create the run directory (or reuse it) and write the resolved spec and environment."""
    out = out.expanduser().resolve()
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {str(out)!r} is a file; give a directory for the run")
    (out / "cells").mkdir(parents=True, exist_ok=True)
    write_atomic(out / "spec.yaml", yaml.safe_dump(spec.canonical(), sort_keys=False))
    write_atomic(out / "environment.json", json.dumps(environment(), indent=2))
    return out


def write_cell_file(out: Path, cell: Cell, result: CellResult) -> str:
    """Per-example test predictions of one cell, as Parquet, written atomically."""
    proba = result.proba
    frame = pd.DataFrame({"example": np.arange(len(proba)), "pred": proba.argmax(axis=1)})
    for c in range(proba.shape[1]):
        frame[f"p{c}"] = proba[:, c]
    name = f"cells/{cell.key}.parquet"
    tmp = out / f"cells/.{cell.key}.{os.getpid()}.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, out / name)
    return name


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file and ``os.replace``."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
