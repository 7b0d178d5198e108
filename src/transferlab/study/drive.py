"""The driver's side of a run: embed once, dispatch the cells, record each outcome in the ledger.

The driver alone writes the ledger and the cell files. Before any cell is dispatched it computes
every embedding the cells will read (through the cache), so no two workers ever compute the
same one and no cell pays for it. A cell is marked ``running`` when a worker reports that it
started it, and ``done`` only after its file was flushed to disk with its checksum recorded.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from transferlab.data import TaskSplit
from transferlab.sources import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.strategies import strategy_class
from transferlab.study.cell import CellResult
from transferlab.study.executor import Executor
from transferlab.study.files import write_bytes_atomic
from transferlab.study.ledger import Ledger
from transferlab.study.planner import Cell
from transferlab.study.progress import CellProgress
from transferlab.study.spec import StudySpec


@dataclass
class Tally:
    """What the cells of one run did."""

    failed: list[tuple[str, str]] = field(default_factory=list)  # (cell, error)
    train_seconds: float = 0.0


def warm_embeddings(
    cells: list[Cell], split: TaskSplit, sources: dict[str, Source], cache: EmbeddingCache, say: Callable[[str], None]
) -> None:
    """Compute (or find in the cache) the embeddings of every source whose features the cells read."""
    needed = sorted(
        {c.source.label for c in cells if strategy_class(c.strategy.name).input_kind == "features"} & set(sources)
    )
    for label in needed:
        say(f"embedding the task with {label}")
        try:
            for part in split.parts():  # a domain study adds the target pool and the source validation set
                cache.get(sources[label], part)
        except Exception:  # noqa: BLE001 - each cell of this source then fails with the error, recorded
            continue


def execute(
    spec: StudySpec,
    todo: list[Cell],
    executor: Executor,
    ledger: Ledger,
    out: Path,
    show: bool,
    prepare: Callable[[Callable[[str], None]], None],
) -> Tally:
    """Run ``todo`` on ``executor``, recording every start and outcome; failures are shown as they happen."""
    tally = Tally()
    with CellProgress(len(todo), enabled=show) as bar:
        prepare(bar.describe)

        def start(cell: Cell, at: float | None = None) -> None:
            ledger.mark_running(cell.key, at)
            bar.describe(cell.describe())

        for cell, outcome in executor.run(spec, todo, start):
            if isinstance(outcome, str):
                ledger.mark_failed(cell.key, outcome)
                tally.failed.append((cell.describe(), outcome))
                bar.fail(cell.describe(), outcome)
            else:
                file, digest = write_cell_file(out, cell, outcome)
                ledger.mark_done(cell.key, outcome.metrics, outcome.cost, file, outcome.health, digest)
                tally.train_seconds += outcome.cost["fit_seconds"]
            bar.advance()
    return tally


def write_cell_file(out: Path, cell: Cell, result: CellResult) -> tuple[str, str]:
    """Per-example test predictions of one cell as Parquet, written durably; (name, sha256).

    An episodic cell's file holds its per-episode accuracies instead (:mod:`transferlab.study.episodes`).
    """
    if result.episodes is not None:
        from transferlab.study.episodes import episode_frame

        frame = episode_frame(result.episodes)
    else:
        frame = prediction_frame(result.proba)
    if result.source_proba is not None:  # a cross-lingual study: the source-language test set too
        from transferlab.study.language_cell import with_source_rows

        frame = with_source_rows(frame, result.source_proba)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    name = f"cells/{cell.key}.parquet"
    return name, write_bytes_atomic(out / name, buffer.getvalue())


def prediction_frame(proba: np.ndarray) -> pd.DataFrame:
    """One row per test example: the predicted class and the probabilities ``p0 .. p{C-1}``."""
    frame = pd.DataFrame({"example": np.arange(len(proba)), "pred": proba.argmax(axis=1)})  # proba: (n_test, C)
    for c in range(proba.shape[1]):
        frame[f"p{c}"] = proba[:, c]
    return frame
