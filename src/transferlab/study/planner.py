"""From a spec to cells: one (source, strategy, budget, seed) combination each.

A cell's key is a stable hash of its canonical JSON (the task's resolved settings and data
fingerprint, the arm names and parameters, budget and seed), so the same key always means
the same computation and a changed spec makes new keys instead of reusing stale results.
Zero-shot-like strategies (``needs_labels = False``) get one cell at budget 0; baselines that
ignore the source (``uses_source = False``) get one cell per budget and seed, with source "none".
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from transferlab.strategies import strategy_class
from transferlab.study.spec import Arm, StudySpec

NO_SOURCE = Arm(name="none")


@dataclass(frozen=True)
class Cell:
    """One unit of work; pure function of its key and the spec."""

    key: str
    source: Arm
    strategy: Arm
    budget: int
    seed: int
    role: str  # "transfer" | "baseline"
    payload: dict[str, Any] = field(repr=False, compare=False)

    @property
    def random_state(self) -> int:
        """The seed for every random choice inside the cell (derived from the key)."""
        return int(self.key[:8], 16)

    def describe(self) -> str:
        """Short label for progress bars and logs."""
        return f"{self.source.label} / {self.strategy.label} / budget {self.budget} / seed {self.seed}"


def cell_key(payload: dict[str, Any]) -> str:
    """sha256 of the canonical JSON of ``payload`` (24 hex characters)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def make_cell(spec: StudySpec, fingerprint: str, source: Arm, strategy: Arm, budget: int, seed: int) -> Cell:
    """A cell with its key computed from everything that determines its result."""
    role = "baseline" if strategy_class(strategy.name).is_baseline else "transfer"
    payload = {
        "task": spec.task.model_dump(),
        "data": fingerprint,
        "source": source.model_dump(),
        "strategy": strategy.model_dump(),
        "budget": budget,
        "budget_unit": spec.budget_unit,
        "seed": seed,
    }
    return Cell(cell_key(payload), source, strategy, budget, seed, role, payload)


def plan_cells(spec: StudySpec, fingerprint: str, modality: str) -> tuple[list[Cell], list[str]]:
    """Every cell of the study, and notes on combinations skipped as not applicable."""
    cells: list[Cell] = []
    notes: list[str] = []
    for strategy in spec.strategies + spec.baselines:
        cls = strategy_class(strategy.name)
        if modality not in cls.modalities:
            notes.append(
                f"{strategy.label} skipped: it handles {', '.join(cls.modalities)} data, the task is {modality}"
            )
            continue
        sources = spec.sources if cls.uses_source else [NO_SOURCE]
        budgets = spec.budgets if cls.needs_labels else [0]
        seeds = spec.seed_list if cls.needs_labels else spec.seed_list[:1]
        for source in sources:
            for budget in budgets:
                cells += [make_cell(spec, fingerprint, source, strategy, budget, seed) for seed in seeds]
    return cells, notes


def cell_to_row(cell: Cell) -> dict[str, Any]:
    """The ledger's description columns of a cell."""
    return {
        "key": cell.key,
        "source": cell.source.label,
        "strategy": cell.strategy.label,
        "budget": cell.budget,
        "seed": cell.seed,
        "role": cell.role,
        "payload": json.dumps(cell.payload, sort_keys=True, default=str),
    }


__all__ = ["NO_SOURCE", "Cell", "asdict", "cell_key", "cell_to_row", "make_cell", "plan_cells"]
