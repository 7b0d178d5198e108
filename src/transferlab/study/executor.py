"""Executors run cells and hand results back to the driver, which alone writes the ledger.

``local`` runs in the driver process (``workers: 1``, the best use of 2 cores: torch already
uses both) or in a process pool (``workers: N``, torch threads split between workers). Other
executors (Ray) register here with the same interface: ``run(spec, cells)`` yields
``(cell, result_or_error_text)`` as cells finish.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Protocol

import torch

from transferlab.registry import Registry
from transferlab.sources import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.study.cell import CellContext, CellResult, run_cell
from transferlab.study.planner import Cell
from transferlab.study.spec import StudySpec

Outcome = tuple[Cell, CellResult | str]
OnStart = Callable[[Cell], None]


class Executor(Protocol):
    """Runs cells; yields each with its result, or the error text when it failed."""

    def run(self, spec: StudySpec, cells: list[Cell], on_start: OnStart) -> Iterator[Outcome]:
        """Call ``on_start(cell)`` when a cell is dispatched; yield it with its outcome when done."""
        ...


EXECUTORS: Registry[Executor] = Registry("executor")


def error_text(exc: BaseException) -> str:
    """One line for the ledger: type, message and where it was raised."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"


def safe_run(cell: Cell, context: CellContext) -> CellResult | str:
    """Run a cell, turning any exception into its error text (the other cells go on)."""
    try:
        return run_cell(cell, context)
    except Exception as exc:  # noqa: BLE001 - a failed cell is recorded, never fatal
        return error_text(exc)


@EXECUTORS.register("local")
class LocalExecutor:
    """In-process (``workers=1``) or a process pool of ``workers`` processes."""

    def __init__(
        self, workers: int = 1, cache: EmbeddingCache | None = None, sources: dict[str, Source] | None = None
    ) -> None:
        self.workers = workers
        self.cache = cache or EmbeddingCache()
        self.sources = dict(sources or {})  # built already (by the pre-flight checks): reused in-process

    def run(self, spec: StudySpec, cells: list[Cell], on_start: OnStart) -> Iterator[Outcome]:
        if self.workers <= 1:
            torch.set_num_threads(max(1, os.cpu_count() or 1))
            context = CellContext(spec, self.cache, sources=self.sources)
            for cell in cells:
                on_start(cell)
                yield cell, safe_run(cell, context)
            return
        yield from self._pool(spec, cells, on_start)

    def _pool(self, spec: StudySpec, cells: list[Cell], on_start: OnStart) -> Iterator[Outcome]:
        threads = max(1, (os.cpu_count() or 1) // self.workers)
        init_args = (spec.model_dump(), str(self.cache.root), threads)
        with ProcessPoolExecutor(self.workers, initializer=_init_worker, initargs=init_args) as pool:
            for cell in cells:
                on_start(cell)
            futures = {pool.submit(_worker_run, cell): cell for cell in cells}
            for future in as_completed(futures):
                yield futures[future], future.result()


_WORKER: CellContext | None = None


def _init_worker(spec_data: dict, cache_root: str, threads: int) -> None:
    global _WORKER
    from pathlib import Path

    torch.set_num_threads(threads)
    _WORKER = CellContext(StudySpec.model_validate(spec_data), EmbeddingCache(Path(cache_root)))


def _worker_run(cell: Cell) -> CellResult | str:
    assert _WORKER is not None
    return safe_run(cell, _WORKER)
