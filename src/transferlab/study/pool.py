"""The local executor's process pool: workers that say when a cell starts, and that can be lost.

Why not ``concurrent.futures.ProcessPoolExecutor``: it marks a task running when it is queued
to a worker, not when the worker starts it; it cannot stop one hung task; and one worker dying
breaks the whole pool (``BrokenProcessPool``). Here each worker has its own pipe and runs one
cell at a time. It sends ``start`` when it begins a cell and the outcome when it ends, so the
driver (which alone writes the ledger) marks a cell running only once it really is. A worker
still busy ``timeout`` seconds after its ``start`` is killed and replaced, and its cell fails
with "timed out after N s". A worker that dies mid-cell (killed, out of memory) is replaced,
and its cell runs again, up to ``max_retries`` more times.

Workers are forked from a ``forkserver`` that imported transferlab and torch once: a new or
replacement worker starts in milliseconds, and never inherits the driver's threads (forking a
process whose OpenMP pool has run is not safe).
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import signal
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from transferlab.study.cell import CellContext, CellResult
from transferlab.study.planner import Cell

Outcome = tuple[Cell, CellResult | str]


@dataclass
class Slot:
    """One worker process and the cell it runs."""

    process: Any  # multiprocessing.Process
    conn: Connection
    cell: Cell | None = None
    started: float | None = None
    tries: dict[str, int] = field(default_factory=dict)


def _context() -> Any:
    method = "forkserver" if "forkserver" in mp.get_all_start_methods() else "spawn"
    context = mp.get_context(method)
    if method == "forkserver":
        context.set_forkserver_preload(["transferlab.study.pool"])  # ignored once the server runs
    return context


class WorkerPool:
    """``workers`` processes running cells of ``spec`` with per-cell timeouts and retries."""

    def __init__(
        self,
        workers: int,
        worker_args: tuple[Any, ...],
        timeout: float | None = None,
        max_retries: int = 1,
    ) -> None:
        self.workers = workers
        self.worker_args = worker_args  # (spec data, cache root, torch threads, fault file)
        self.timeout = timeout
        self.max_retries = max_retries

    def run(self, cells: list[Cell], on_start: Callable[[Cell], None]) -> Iterator[Outcome]:
        """Yield each cell with its outcome as it finishes; ``on_start`` when a worker begins one."""
        queue, tries = deque(cells), dict.fromkeys((c.key for c in cells), 0)
        context = _context()
        slots = [self._spawn(context) for _ in range(min(self.workers, len(cells)))]
        try:
            while queue or any(s.cell for s in slots):
                for slot in slots:
                    if slot.cell is None and queue:
                        slot.cell, slot.started = queue.popleft(), None
                        slot.conn.send(slot.cell)
                wait(self._waitables(slots), timeout=self._wait_seconds(slots))  # a message, a death or a deadline
                for i, slot in enumerate(slots):
                    outcome, replace = self._check(slot, on_start, tries, queue)
                    if replace:
                        _stop(slot)
                        slots[i] = self._spawn(context)
                    if outcome is not None:
                        yield outcome
        finally:
            for slot in slots:
                _stop(slot)

    def _spawn(self, context: Any) -> Slot:
        ours, theirs = context.Pipe()
        args = (theirs, *self.worker_args, os.getpid())
        process = context.Process(target=worker_main, args=args, daemon=True)
        process.start()
        theirs.close()
        return Slot(process, ours)

    @staticmethod
    def _waitables(slots: list[Slot]) -> list[Any]:
        return [s.conn for s in slots if s.cell] + [s.process.sentinel for s in slots if s.cell]

    def _wait_seconds(self, slots: list[Slot]) -> float | None:
        if self.timeout is None:
            return None
        starts = [s.started for s in slots if s.cell and s.started is not None]
        return max(0.0, min(starts) + self.timeout - time.monotonic()) if starts else None

    def _check(
        self, slot: Slot, on_start: Callable[[Cell], None], tries: dict[str, int], queue: deque[Cell]
    ) -> tuple[Outcome | None, bool]:
        """Read what a worker said; returns (an outcome to yield, whether to replace the worker)."""
        cell = slot.cell
        if cell is None:
            return None, False
        while True:
            try:
                if not slot.conn.poll():
                    break
                message = slot.conn.recv()
            except (EOFError, OSError):
                break  # the worker died; handled below
            if message[0] == "start":
                slot.started = time.monotonic()
                on_start(cell)
            else:
                slot.cell = None
                return (cell, message[2]), False
        if not slot.process.is_alive():
            tries[cell.key] += 1
            if tries[cell.key] <= self.max_retries:
                queue.appendleft(cell)  # a lost worker: the cell runs again from scratch
                return None, True
            died = f"WorkerLost: the worker process died (exit code {slot.process.exitcode})"
            return (cell, f"{died} in each of {tries[cell.key]} tries"), True
        if self.timeout is not None and slot.started is not None and time.monotonic() - slot.started >= self.timeout:
            return (cell, f"TimeoutError: timed out after {self.timeout:g} s (the worker was stopped)"), True
        return None, False


def _stop(slot: Slot) -> None:
    """End a worker: politely when idle, with SIGKILL when it is busy or does not answer."""
    if slot.process.is_alive() and slot.cell is None:
        with contextlib.suppress(OSError):  # it died meanwhile
            slot.conn.send(None)
        slot.process.join(timeout=2)
    if slot.process.is_alive():
        slot.process.kill()
    slot.process.join()
    slot.conn.close()


def worker_main(
    conn: Connection, spec_data: dict, cache_root: str, threads: int, faults: str | None, driver: int
) -> None:
    """A worker's loop: receive a cell, say ``start``, run it, send the outcome; ``None`` ends it."""
    import torch

    from transferlab.errors import DataWarning
    from transferlab.sources.cache import EmbeddingCache
    from transferlab.study.executor import safe_run
    from transferlab.study.spec import StudySpec

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's to handle: it stops the workers
    die_with_parent()
    watch_driver(driver)
    torch.set_num_threads(threads)
    warnings.simplefilter("ignore", DataWarning)  # the driver already reported them when it loaded the task
    context = CellContext(StudySpec.model_validate(spec_data), EmbeddingCache(Path(cache_root)))
    while True:
        try:
            cell = conn.recv()
        except (EOFError, OSError, KeyboardInterrupt):
            return
        if cell is None:
            return
        conn.send(("start", cell.key, os.getpid()))
        conn.send(("done", cell.key, safe_run(cell, context, faults)))


def watch_driver(driver: int, every: float = 1.0) -> None:
    """End this worker within ``every`` seconds of the driver's death, even in the middle of a cell.

    The worker's parent is the fork server, not the driver, and the fork server outlives the
    driver while any of its workers does (each worker holds a copy of the server's "driver
    alive" pipe), so neither a dead parent nor a closed pipe stops a worker that is inside a
    long or hung cell: it would run on, for a result nobody records. A daemon thread polls the
    driver's pid instead and ends the process when it is gone.
    """

    def watch() -> None:
        while True:
            time.sleep(every)
            if not alive(driver):
                os._exit(1)

    threading.Thread(target=watch, name="watch-driver", daemon=True).start()


def alive(pid: int) -> bool:
    """Whether process ``pid`` runs (a zombie, killed but not yet reaped by its parent, does not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process has the pid: not proof of the driver's death
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): the signal check above is all there is
    return state != "Z"


def die_with_parent() -> None:
    """Linux: have the kernel kill this worker when its parent (the fork server) ends."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # not Linux: an orphaned worker ends when its cell does
