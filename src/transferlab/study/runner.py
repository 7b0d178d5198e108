"""The study driver: validate, plan, run what the ledger lacks, then analyse and report.

Everything that can fail on bad input (spec, data, budgets, names, parameters, the ``--out``
folder) is checked before the run directory is touched, so a bad spec never leaves a
half-written run behind. Then, holding the run directory's lock: leftovers of a killed run are
removed, finished cells whose files fail their checksum are put back to pending, the
embeddings are computed once, the remaining cells run on the chosen executor, and the outputs
are written from the ledger.
"""

from __future__ import annotations

import json
import sqlite3
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from transferlab.data import TaskSplit, check_budget
from transferlab.data.domains import check_target_budgets
from transferlab.errors import DataWarning, InputError
from transferlab.sources import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies import create_strategy
from transferlab.study.cell import load_split
from transferlab.study.drive import execute, warm_embeddings
from transferlab.study.environment import environment
from transferlab.study.executor import ExecutorOptions, create_executor
from transferlab.study.files import write_atomic
from transferlab.study.integrity import broken_note, verify_done_cells
from transferlab.study.ledger import Ledger
from transferlab.study.outputs import EmbeddingContext, write_outputs
from transferlab.study.planner import Cell, cell_to_row, plan_cells
from transferlab.study.preflight import build_sources, check_arms
from transferlab.study.protocols import check_protocols
from transferlab.study.ray_executor import check_reachable
from transferlab.study.rundir import RunLock, check_no_links, check_out_dir, clean_leftovers, write_marker
from transferlab.study.spec import StudySpec
from transferlab.study.status import open_read_only


@dataclass
class RunResult:
    """What a run did: counts, timings and where its outputs are."""

    out: Path
    n_cells: int
    ran: int
    skipped: int
    failed: list[tuple[str, str]] = field(default_factory=list)  # cells that failed in this run
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    answer: list[str] = field(default_factory=list)  # the study's answer per budget, one sentence each
    failed_before: int = 0  # cells that had failed in an earlier run and were kept (no --retry-failed)

    @property
    def n_failed(self) -> int:
        """Failed cells of the study now: this run's and the earlier ones kept."""
        return len(self.failed) + self.failed_before


@dataclass
class Validated:
    """A spec checked against its data and sources: what running it needs."""

    split: TaskSplit
    cells: list[Cell]
    notes: list[str]
    sources: dict[str, Source]


def validate(spec: StudySpec, build: bool = True) -> Validated:
    """Load the task and sources and plan the cells, raising :class:`InputError` on anything a cell would trip on.

    ``build=False`` stops before the checks that need the sources built (their weights loaded):
    :func:`check_sources` runs them later, and only when some cell is left to run.
    """
    split, cells, notes = plan(spec)
    check_protocols(spec, split)  # unseen classes, episodes and class names against the data
    checked = Validated(split, cells, notes, {})
    if build:
        check_sources(spec, checked)
    return checked


def check_sources(spec: StudySpec, checked: Validated) -> None:
    """Build every source once and ask every strategy whether it can work with it."""
    checked.sources.update(build_sources(spec))
    check_arms(spec, checked.split.train.modality, checked.sources)


def nothing_left(out: Path, cells: list[Cell], retry_failed: bool) -> bool:
    """Whether the run directory already holds every planned cell (done, or failed and not to be retried).

    Then no source needs building: the checks that need one passed when those cells ran (a changed
    source or parameter is a new cell key), and a no-op resume skips loading any weights. A done
    cell whose file turns out damaged is computed again all the same; its source is built then.
    """
    path = out / "ledger.sqlite"
    if not path.is_file() or path.is_symlink():  # a linked ledger is refused later, and never opened
        return False
    finished = {"done"} if retry_failed else {"done", "failed"}
    try:
        db = open_read_only(path, live=True)  # through the WAL: an interrupted run's last transitions count
        try:
            status = dict(db.execute("SELECT key, status FROM cells").fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        return False
    return all(status.get(c.key) in finished for c in cells)


def plan(
    spec: StudySpec, dataset_path: str | None = None, target_path: str | None = None
) -> tuple[TaskSplit, list[Cell], list[str]]:
    """Load the task and plan the cells (the checks that need no source built).

    ``dataset_path`` reads the data from there instead of ``spec.task.dataset`` (the absolute path
    a run recorded), ``target_path`` likewise for a domain study's ``target_dataset``, while the
    cell keys still use the spec as written.
    """
    notes: list[str] = []
    paths = {"dataset": dataset_path, "target_dataset": target_path}
    task = spec.task.model_copy(update={k: v for k, v in paths.items() if v is not None})
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DataWarning)
        split = load_split(task)
    for warning in caught:
        if issubclass(warning.category, DataWarning):
            notes.append(str(warning.message))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    per_class = spec.budget_unit == "per_class"
    for budget in spec.budgets:
        check_budget(split.train.labels, budget, per_class)
    if split.unlabeled is not None:
        check_target_budgets(split.unlabeled.labels, spec.target_budget_list, per_class)
    for arm in spec.strategies + spec.baselines:
        create_strategy(arm.name, **arm.params)
    cells, skipped = plan_cells(spec, split.train.fingerprint + split.test.fingerprint, split.train.modality)
    if not cells:
        raise InputError(f"the spec plans no cells: {'; '.join(skipped) or 'no strategy applies'}")
    return split, cells, notes + skipped


def run_study(
    spec: StudySpec,
    out: str | Path,
    cache: EmbeddingCache | None = None,
    progress: bool = True,
    retry_failed: bool = False,
    address: str | None = None,
) -> RunResult:
    """Run (or continue) ``spec`` into the run directory ``out`` and write its report.

    Cells that failed in an earlier run are kept as failed unless ``retry_failed``. ``address``
    is a Ray cluster for ``executor: ray`` (default: a local Ray on this machine).
    """
    start = time.perf_counter()
    if address is not None:  # before anything is built, embedded or written: Ray itself retries for minutes
        check_reachable(address)
    out = Path(out).expanduser().resolve()
    checked = validate(spec, build=False)
    if not nothing_left(out, checked.cells, retry_failed):
        check_sources(spec, checked)
    check_out_dir(out)
    cache = cache or EmbeddingCache()
    out.mkdir(parents=True, exist_ok=True)
    check_no_links(out)
    with RunLock(out, "run"):
        clean_leftovers(out)
        cache.clean_leftovers()
        write_run_files(out, spec, checked.split)
        ledger = Ledger(out / "ledger.sqlite")
        try:
            result = _run(spec, checked, out, ledger, cache, progress, retry_failed, address)
        finally:
            ledger.close()
    result.seconds["total"] = time.perf_counter() - start
    return result


def _run(
    spec: StudySpec,
    checked: Validated,
    out: Path,
    ledger: Ledger,
    cache: EmbeddingCache,
    progress: bool,
    retry_failed: bool,
    address: str | None,
) -> RunResult:
    cells, notes = checked.cells, list(checked.notes)
    ledger.add_cells([cell_to_row(c) for c in cells])
    ledger.set_plan([c.key for c in cells])
    broken = verify_done_cells(out, ledger)
    notes += [broken_note(broken)] if broken else []
    status = ledger.statuses()
    rerun = ("pending", "running", "failed") if retry_failed else ("pending", "running")
    todo = [c for c in cells if status[c.key] in rerun]
    if todo and not checked.sources:  # a done cell's file was damaged: it runs again, so its sources are needed
        check_sources(spec, checked)
    result = RunResult(out, len(cells), len(todo), len(cells) - len(todo), notes=notes)
    result.failed_before = sum(status[c.key] == "failed" for c in cells) if not retry_failed else 0
    options = ExecutorOptions(
        spec.workers, spec.cell_timeout, spec.max_retries, address, cache, checked.sources, checked.split
    )
    executor = create_executor(spec.executor, options)

    def prepare(say: Callable[[str], None]) -> None:
        warm_embeddings(todo, checked.split, checked.sources, cache, say)

    tally = execute(spec, todo, executor, ledger, out, progress, prepare)
    result.failed, result.seconds["train"] = tally.failed, tally.train_seconds
    result.seconds["embed"] = cache.embed_seconds
    analyse_start = time.perf_counter()
    embedding = EmbeddingContext(cache, checked.sources)
    summary = write_outputs(out, spec, ledger, checked.split, [c.key for c in cells], notes, embedding)
    result.answer = [a["sentence"] for a in summary.get("decision", {}).get("per_budget", [])]
    result.seconds["analyse"] = time.perf_counter() - analyse_start
    return result


def write_run_files(out: Path, spec: StudySpec, split: TaskSplit) -> None:
    """The marker (with where the data was read from), the resolved spec and the environment."""
    (out / "cells").mkdir(exist_ok=True)
    write_marker(
        out,
        {
            "study": spec.name,
            "dataset_path": dataset_path(spec.task.dataset),
            "data_fingerprint": split.train.fingerprint + split.test.fingerprint,
        }
        | ({"target_dataset_path": dataset_path(spec.task.target_dataset)} if spec.task.target_dataset else {}),
    )
    write_atomic(out / "spec.yaml", yaml.safe_dump(spec.canonical(), sort_keys=False))
    write_atomic(out / "environment.json", json.dumps(environment(), indent=2))


def dataset_path(dataset: str) -> str | None:
    """The absolute path a spec's dataset was read from (None for a bundled name or a hub id).

    ``report`` reads the data from there, so a relative path in the spec does not depend on the
    folder ``report`` is started from.
    """
    prefix, sep, rest = dataset.partition(":")
    if sep and prefix == "hf-disk":
        return f"hf-disk:{Path(rest).expanduser().resolve()}"
    if sep and len(prefix) > 1:
        return None  # hf:<hub name> and the like
    path = Path(dataset).expanduser()
    return str(path.resolve()) if path.exists() else None
