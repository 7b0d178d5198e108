"""Executors run cells and hand results back to the driver, which alone writes the ledger.

Every executor has one interface: ``run(spec, cells, on_start)`` yields ``(cell, result or
error text)`` as cells finish, and calls ``on_start(cell)`` when a worker *starts* a cell (not
when it is queued). They are registered in ``EXECUTORS`` and built from one
:class:`ExecutorOptions`.

* ``local``: in the driver process (``workers: 1``, the best use of 2 cores: torch already
  uses both), or a pool of ``workers`` processes (:mod:`transferlab.study.pool`), torch threads
  split between them. A per-cell timeout needs a process that can be stopped, so with
  ``cell_timeout`` set one worker runs in a process of its own.
* ``ray``: Ray core tasks, on a local Ray or an existing cluster
  (:mod:`transferlab.study.ray_executor`).

Both support ``cell_timeout`` (a cell still running after it fails with "timed out after N s",
and the others go on) and ``max_retries`` (a cell whose worker died runs again from scratch).
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

from transferlab.data import TaskSplit
from transferlab.registry import Registry
from transferlab.sources import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.study.cell import CellContext, CellResult, run_cell
from transferlab.study.faults import faults_file, inject
from transferlab.study.planner import Cell
from transferlab.study.pool import WorkerPool
from transferlab.study.spec import StudySpec

Outcome = tuple[Cell, CellResult | str]
OnStart = Callable[..., None]  # on_start(cell, at=None): at = when the worker started it (time.time()), if known


class Executor(Protocol):
    """Runs cells; yields each with its result, or the error text when it failed."""

    def run(self, spec: StudySpec, cells: list[Cell], on_start: OnStart) -> Iterator[Outcome]:
        """Call ``on_start(cell)`` when a worker starts a cell (``on_start(cell, at=t)`` when the start
        is learnt later than it happened); yield it with its outcome when done."""
        ...


@dataclass
class ExecutorOptions:
    """What any executor may use: parallelism, limits, and what the driver has already built."""

    workers: int = 1
    cell_timeout: float | None = None  # seconds from a cell's start
    max_retries: int = 1  # further tries of a cell whose worker died
    address: str | None = None  # ray: an existing cluster (HOST:PORT, or "auto")
    cache: EmbeddingCache = field(default_factory=EmbeddingCache)
    sources: dict[str, Source] = field(default_factory=dict)  # built by the pre-flight checks
    split: TaskSplit | None = None  # the loaded task (ray ships it to workers instead of a path)


EXECUTORS: Registry[Executor] = Registry("executor")


def error_text(exc: BaseException) -> str:
    """One line for the ledger: type, message and where it was raised."""
    frame = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    where = f" ({os.path.basename(frame.filename)}:{frame.lineno})" if frame else ""
    return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"


def safe_run(cell: Cell, context: CellContext, faults: str | None = None) -> CellResult | str:
    """Run a cell, turning any exception into its error text (the other cells go on)."""
    try:
        inject(cell.key, faults)
        return run_cell(cell, context)
    except Exception as exc:  # noqa: BLE001 - a failed cell is recorded, never fatal
        return error_text(exc)


@EXECUTORS.register("local")
class LocalExecutor:
    """In-process (``workers=1``, no timeout) or a pool of worker processes."""

    def __init__(self, options: ExecutorOptions | None = None) -> None:
        self.options = options

    def run(self, spec: StudySpec, cells: list[Cell], on_start: OnStart) -> Iterator[Outcome]:
        options = self.options or ExecutorOptions()
        if options.workers <= 1 and options.cell_timeout is None:
            yield from self._in_process(spec, cells, on_start, options)
            return
        threads = max(1, (os.cpu_count() or 1) // options.workers)
        worker_args = (spec.model_dump(), str(options.cache.root), threads, faults_file())
        pool = WorkerPool(options.workers, worker_args, options.cell_timeout, options.max_retries)
        yield from pool.run(cells, on_start)

    @staticmethod
    def _in_process(
        spec: StudySpec, cells: list[Cell], on_start: OnStart, options: ExecutorOptions
    ) -> Iterator[Outcome]:
        if not cells:
            return
        import torch  # here, not at import: a run with nothing left to do never needs it

        torch.set_num_threads(max(1, os.cpu_count() or 1))
        context = CellContext(spec, options.cache, split=options.split, sources=dict(options.sources))
        faults = faults_file()
        for cell in cells:
            on_start(cell)
            yield cell, safe_run(cell, context, faults)


def create_executor(name: str, options: ExecutorOptions) -> Executor:
    """The executor registered as ``name``, built with ``options``."""
    return EXECUTORS.create(name, options=options)


from transferlab.study import ray_executor  # noqa: E402, F401 - registers "ray" beside "local"
