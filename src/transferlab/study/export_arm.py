"""Export one trained arm of a study: refit its cell, check it, and save its head without pickle.

Cells store predictions, not models. A cell is a pure function of its key (the budget sample,
the strategy's ``random_state`` and the cached embeddings all follow from it), so the fitted
model is rebuilt here by refitting the cell, and trusted only if it reproduces the stored test
predictions of ``cells/<key>.parquet``: both the refitted strategy and the exported head (which
recomputes them from its saved arrays alone) must match them to float32 rounding. Any other
outcome means the data, the source's weights or the code changed since the run, and the export
stops with one line.

Supported: the frozen-feature strategies of :mod:`transferlab.study.heads`. An arm that trains
its backbone (fine-tuning, LoRA, ...) is refused with the list of supported ones.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from transferlab.data import TaskSplit
from transferlab.errors import InputError
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies import create_strategy, strategy_class
from transferlab.study.heads import SUPPORTED, Head, head_from_strategy
from transferlab.study.planner import Cell

# Stored probabilities are float32: a refit that agrees to this is the same model.
MATCH_TOLERANCE = 1e-5


@dataclass
class ArmExport:
    """A refitted, checked arm: its head, where it came from, and its test-set outputs (the reference)."""

    run_dir: Path
    study: str
    cell: Cell
    head: Head
    split: TaskSplit
    test_features: np.ndarray  # (n_test, d) embeddings of the study's test set
    test_proba: np.ndarray  # (n_test, C) the arm's probabilities on it (as stored)
    source_revision: str
    preprocessing: str
    task: dict[str, Any]
    max_difference: float  # largest |refit - stored| probability

    @property
    def label(self) -> str:
        return f"{self.cell.source.label}/{self.cell.strategy.label}/{self.cell.budget}"

    def describe(self) -> dict[str, Any]:
        """The JSON header saved beside the head (``arm.json``)."""
        return {
            "study": self.study,
            "run_dir": str(self.run_dir),
            "arm": self.label,
            "cell_key": self.cell.key,
            "source": self.cell.source.model_dump(),
            "strategy": self.cell.strategy.model_dump(),
            "budget": self.cell.budget,
            "seed": self.cell.seed,
            "source_revision": self.source_revision,
            "preprocessing": self.preprocessing,
            "classes": list(self.split.test.classes),
            "modality": self.split.test.modality,
            "task": self.task,
            "max_difference": self.max_difference,
        }


def export_arm(
    run_dir: str | Path, arm: str, seed: int | None = None, cache: EmbeddingCache | None = None
) -> ArmExport:
    """Refit the cell of ``arm`` (``source/strategy/budget``) in a run directory and check it.

    Parameters
    ----------
    run_dir : a run directory written by ``transferlab run``.
    arm : ``"<source>/<strategy>/<budget>"`` as the report labels arms, e.g. ``minilm-l6/linear-probe/640``.
    seed : which seed's cell; default the first seed of the study.
    cache : the embedding cache (default ``EmbeddingCache()``): the test set is usually cached by the run.

    Returns
    -------
    ArmExport
    """
    from transferlab.study.cell import CellContext
    from transferlab.study.rundir import read_marker
    from transferlab.study.runner import plan
    from transferlab.study.spec import load_spec

    run_dir = _checked_run_dir(run_dir)
    spec = load_spec(run_dir / "spec.yaml")
    split, cells, _ = plan(spec, read_marker(run_dir).get("dataset_path"))
    cell = _find_cell(cells, arm, seed)
    cls = strategy_class(cell.strategy.name)
    if cell.strategy.name not in SUPPORTED or cls.trains_backbone or cls.input_kind != "features":
        head_from_strategy(cell.strategy.name, None)  # raises the one-line refusal
    stored = _stored_proba(run_dir, cell.key)
    context = CellContext(spec, cache=cache or EmbeddingCache(), split=split)
    source = context.source(cell.source)
    strategy, test_x = _refit(cell, context)
    head = head_from_strategy(cell.strategy.name, strategy)
    refit = _normalised(strategy.predict_proba(test_x))
    difference = max(_max_difference(refit, stored), _max_difference(head.predict_proba(test_x), stored))
    if difference > MATCH_TOLERANCE:
        raise InputError(
            f"arm {arm!r}: the refitted model does not reproduce the stored test predictions (largest difference"
            f" {difference:.2g}); the data, the source's weights or the code changed since the run: run the study"
            " again, then export"
        )
    task = spec.task.model_dump()
    return ArmExport(
        run_dir, spec.name, cell, head, split, test_x, stored, source.revision, source.preprocessing, task, difference
    )


def save_arm(export: ArmExport, folder: Path) -> None:
    """Write ``head.safetensors``, ``head.json`` and ``arm.json`` into ``folder`` (no pickle)."""
    from transferlab.durable import write_atomic

    folder.mkdir(parents=True, exist_ok=True)
    export.head.save(folder)
    write_atomic(folder / "arm.json", json.dumps(export.describe(), indent=2, default=str))


def parse_arm(arm: str) -> tuple[str, str, int]:
    """``source/strategy/budget`` split from the right (a source name such as ``hf:/path`` may hold ``/``)."""
    parts = arm.rsplit("/", 2)
    if len(parts) != 3 or not parts[2].isdigit() or not parts[0] or not parts[1]:
        raise InputError(
            f"--arm {arm!r}: expected <source>/<strategy>/<budget>, e.g. minilm-l6/linear-probe/640;"
            " fix: copy an arm from the study's report"
        )
    return parts[0], parts[1], int(parts[2])


def _checked_run_dir(run_dir: str | Path) -> Path:
    from transferlab.study.rundir import is_run_dir

    path = Path(run_dir).expanduser().resolve()
    if not all((path / n).is_file() for n in ("spec.yaml", "ledger.sqlite")) or not is_run_dir(path):
        raise InputError(
            f"--run {str(run_dir)!r} is not a run directory (expected spec.yaml and ledger.sqlite in it);"
            " fix: give the --out folder of a `transferlab run`"
        )
    return path


def _find_cell(cells: list[Cell], arm: str, seed: int | None) -> Cell:
    source, strategy, budget = parse_arm(arm)
    found = [c for c in cells if (c.source.label, c.strategy.label, c.budget) == (source, strategy, budget)]
    if not found:
        known = sorted({f"{c.source.label}/{c.strategy.label}/{c.budget}" for c in cells if c.role == "transfer"})
        raise InputError(f"--arm {arm!r} is not an arm of this study; its arms: {', '.join(known[:12])}")
    seeds = sorted(c.seed for c in found)
    chosen = seeds[0] if seed is None else seed
    if chosen not in seeds:
        raise InputError(f"--seed {seed} is not a seed of arm {arm!r}; its seeds: {seeds}")
    return next(c for c in found if c.seed == chosen)


def _stored_proba(run_dir: Path, key: str) -> np.ndarray:
    """The cell's stored test probabilities ``(n_test, C)``, after checking its file against the ledger."""
    from transferlab.study.integrity import cell_file_problem
    from transferlab.study.rundir import cell_path

    with sqlite3.connect(f"file:{run_dir / 'ledger.sqlite'}?mode=ro", uri=True) as db:
        row = db.execute("SELECT status, file, sha256 FROM cells WHERE key = ?", (key,)).fetchone()
    if row is None or row[0] != "done":
        state = "not in the ledger" if row is None else row[0]
        raise InputError(f"the arm's cell {key} is {state}, not done; fix: finish the study (`transferlab run`) first")
    problem, _ = cell_file_problem(run_dir, row[1], row[2])
    if problem is not None:
        raise InputError(f"the arm's cell {key}: {problem}; fix: run the study again into the same folder")
    frame = pd.read_parquet(cell_path(run_dir, row[1]))
    return frame[[c for c in frame.columns if c.startswith("p") and c[1:].isdigit()]].to_numpy(np.float64)


def _refit(cell: Cell, context: Any) -> tuple[Any, Any]:
    """The cell's strategy fitted by the very code of :func:`~transferlab.study.cell.run_cell`, and its test inputs.

    The budget sample, the domain parts of a domain study and the unlabelled target pool all come
    from ``run_cell``'s own helpers, so a refit can differ from the cell only if the data, the
    source or the code changed (which the comparison with the stored predictions then shows).
    """
    from transferlab.study.cell import _budget_index, _inputs

    cls = strategy_class(cell.strategy.name)
    strategy = create_strategy(cell.strategy.name, random_state=cell.random_state, **cell.strategy.params)
    source = context.source(cell.source) if cls.uses_source else None
    train, unlabeled, test_inputs = _inputs(cell, context, cls, _budget_index(cell, context))
    return strategy.fit(train, unlabeled=unlabeled, source=source), test_inputs


def _normalised(proba: np.ndarray) -> np.ndarray:
    proba = np.asarray(proba, dtype=np.float64)
    return proba / proba.sum(axis=1, keepdims=True)


def _max_difference(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a - b).max()) if a.shape == b.shape else float("inf")
