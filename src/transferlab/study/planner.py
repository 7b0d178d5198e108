"""From a spec to cells: one (source, strategy, budget, seed) combination each.

A cell's key is a stable hash of its canonical JSON (the task's resolved settings and data
fingerprint, the arm names and parameters, budget and seed), so the same key always means
the same computation and a changed spec makes new keys instead of reusing stale results.
Zero-shot-like strategies (``needs_labels = False``) get one cell at budget 0; baselines that
ignore the source (``uses_source = False``) get one cell per budget and seed, with source "none".
A domain study's ``target_budgets`` multiply the labelled arms: a cell with target budget ``t > 0``
also trains on ``t`` labelled target examples, and its arm is labelled ``coral +10 target``, so
the analysis sees one more arm, not a new dimension (``target_budget`` enters the key only when > 0).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from transferlab.errors import InputError
from transferlab.strategies import strategy_class
from transferlab.study.spec import Arm, StudySpec

NO_SOURCE = Arm(name="none")
# Enters every cell key: bump it when a change of the protocol (budget sampling, splitting)
# changes what a cell computes, so results of the old protocol are never reused as new ones.
# 2: budget slots tied between classes go to a seed-dependent class, not the lowest index.
PROTOCOL = 2


@dataclass(frozen=True)
class Cell:
    """One unit of work; pure function of its key and the spec."""

    key: str
    source: Arm
    strategy: Arm
    budget: int
    seed: int
    role: str  # "transfer" | "baseline" | "episodic" (transferlab.study.episodes)
    payload: dict[str, Any] = field(repr=False, compare=False)
    target_budget: int = 0  # labelled target examples added to the budget (domain studies)

    @property
    def random_state(self) -> int:
        """The seed for every random choice inside the cell (derived from the key)."""
        return int(self.key[:8], 16)

    @property
    def arm_label(self) -> str:
        """The strategy's label, with ``+N target`` when the cell also trains on N labelled target examples."""
        return self.strategy.label + (f" +{self.target_budget} target" if self.target_budget else "")

    def describe(self) -> str:
        """Short label for progress bars and logs."""
        return f"{self.source.label} / {self.arm_label} / budget {self.budget} / seed {self.seed}"


def cell_key(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``payload`` (24 hex characters)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def make_cell(
    spec: StudySpec,
    fingerprint: str,
    source: Arm,
    strategy: Arm,
    budget: int,
    seed: int,
    target_budget: int = 0,
    dumps: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None = None,
) -> Cell:
    """A cell with its key computed from everything that determines its result.

    ``dumps``: the task's, source's and strategy's ``model_dump()`` when the caller has them
    (planning 100,000 cells dumps the same few models; the values are the same either way).
    """
    role = "baseline" if strategy_class(strategy.name).is_baseline else "transfer"
    task_dump, source_dump, strategy_dump = dumps or (
        spec.task.model_dump(),
        source.model_dump(),
        strategy.model_dump(),
    )
    payload = {
        "protocol": PROTOCOL,
        "task": task_dump,
        "data": fingerprint,
        "source": source_dump,
        "strategy": strategy_dump,
        "budget": budget,
        "budget_unit": spec.budget_unit,
        "seed": seed,
    }
    if target_budget:
        payload["target_budget"] = target_budget
    if spec.unseen_classes is not None:  # in the key only when set, so existing keys stay as they were
        payload["unseen_classes"] = spec.unseen_classes
    return Cell(cell_key(payload), source, strategy, budget, seed, role, payload, target_budget)


def plan_cells(spec: StudySpec, fingerprint: str, modality: str) -> tuple[list[Cell], list[str]]:
    """Every cell of the study, and notes on combinations skipped as not applicable."""
    cells: list[Cell] = []
    notes: list[str] = []
    task_dump = spec.task.model_dump()
    for strategy in spec.strategies + spec.baselines:
        cls = strategy_class(strategy.name)
        if modality not in cls.modalities:
            if cls.modality_required:
                raise InputError(
                    f"{strategy.label} works on {' or '.join(cls.modalities)} tasks and the task is {modality};"
                    " remove it from the spec, or give it a task of that kind"
                )
            notes.append(
                f"{strategy.label} skipped: it handles {', '.join(cls.modalities)} data, the task is {modality}"
            )
            continue
        sources = spec.sources if cls.uses_source else [NO_SOURCE]
        budgets = spec.budgets if cls.needs_labels else [0]
        seeds = spec.seed_list if cls.needs_labels else spec.seed_list[:1]
        targets = [t for t in spec.target_budget_list if t > 0 or not cls.needs_target_labels]
        for source in sources:
            dumps = (task_dump, source.model_dump(), strategy.model_dump())
            for budget in budgets:
                for t in targets if cls.needs_labels else [0]:
                    cells += [make_cell(spec, fingerprint, source, strategy, budget, seed, t, dumps) for seed in seeds]
    if spec.evaluation is not None:
        from transferlab.study.episodes import episodic_cells

        cells += episodic_cells(spec, fingerprint, modality)
    return cells, notes


def cell_to_row(cell: Cell) -> dict[str, Any]:
    """The ledger's description columns of a cell."""
    return {
        "key": cell.key,
        "source": cell.source.label,
        "strategy": cell.arm_label,
        "budget": cell.budget,
        "seed": cell.seed,
        "role": cell.role,
        "payload": json.dumps(cell.payload, sort_keys=True, default=str),
    }


__all__ = ["NO_SOURCE", "Cell", "asdict", "cell_key", "cell_to_row", "make_cell", "plan_cells"]
