"""The ``ray`` executor: cells as Ray core tasks, on a local Ray or an existing cluster.

* **What travels.** The driver loads the task and computes every embedding the cells need
  (through the embedding cache) before any cell is dispatched, then puts the task and those
  embeddings in Ray's object store once. Workers read them from there (zero-copy on the same
  node), so a cluster needs no shared folder: only the same Python environment on every node.
  An embedding is never computed per cell.
* **Resources.** A cell asks for one CPU (its fit is single-threaded); a cell that trains the
  backbone asks for up to ``TRAIN_CPUS`` (matrix products use them), and a GPU only when its
  strategy declares ``uses_gpu`` and the cluster has one.
* **Faults.** A cell whose worker is lost mid-cell (killed, out of memory, node gone) runs again
  from scratch, up to ``max_retries`` more times; a cell still running ``cell_timeout`` seconds
  after its try started is cancelled (its worker killed) and recorded as failed, and the others
  go on.
* **Running means started.** Each try of a cell posts its start to a small actor, and returns
  the same token with its outcome; the driver reads the actor a few times a second, counts each
  try once, and alone writes the ledger.
* **Nothing listens beyond this machine.** A local Ray is started without its dashboard, on the
  loopback address only, with usage statistics off: whoever reaches Ray's control plane can run
  code on the cluster (older Ray versions have no authentication on it at all), and exposed
  Ray clusters have been taken over in the wild (the "ShadowRay" campaign, CVE-2023-48022). It
  is shut down when the run ends.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.sources.cache import EmbeddingCache, embedding_key
from transferlab.strategies import strategy_class
from transferlab.study.cell import CellContext
from transferlab.study.planner import Cell
from transferlab.study.spec import StudySpec

INSTALL_HINT = "pip install 'transferlab[ray]'"
TRAIN_CPUS = 4
POLL_SECONDS = 0.2


def import_ray(local: bool) -> Any:
    """Import Ray; before a local start, make it bind the loopback address and send no usage data."""
    if local:
        # Ray's services bind the node's IP unless Ray believes clusters are off (as on macOS);
        # then they use 127.0.0.1. Read when Ray is imported, and inherited by its processes.
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    try:
        import ray
    except ImportError:
        raise InputError(f"--executor ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    if local and "ray._private.ray_constants" in sys.modules:
        sys.modules["ray._private.ray_constants"].ENABLE_RAY_CLUSTER = False  # Ray imported earlier by the caller
    return ray


def start_ray(address: str | None, workers: int) -> bool:
    """Connect to ``address`` or start a local Ray; returns whether this call started it."""
    ray = import_ray(local=address is None)
    if ray.is_initialized():
        return False
    if address is not None:
        check_reachable(address)
        try:
            ray.init(address=address, configure_logging=True, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise InputError(
                f"cannot connect to the Ray cluster at {address!r} ({str(exc).splitlines()[0]}); start it there with"
                " `ray start --head`, or leave out --address for a local Ray"
            ) from None
        return True
    cpus = workers if workers > 1 else (os.cpu_count() or 1)
    ray.init(
        num_cpus=cpus,
        include_dashboard=False,
        configure_logging=True,
        logging_level=logging.WARNING,
        log_to_driver=False,
    )
    return True


def check_reachable(address: str) -> None:
    """Refuse at once an address nothing answers at (Ray itself would retry for minutes)."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if address == "auto":
        return  # Ray looks for a cluster started on this machine
    if not sep or not port.isdigit() or not host:
        raise InputError(f"--address {address!r}: expected HOST:PORT of a Ray cluster's head, e.g. 10.0.0.5:6379")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise InputError(
            f"cannot reach the Ray cluster at {address!r} ({exc.strerror or exc}); start it there with"
            " `ray start --head --port PORT`, or leave out --address for a local Ray"
        ) from None


def cell_resources(cell: Cell, max_cpus: float, gpus: float) -> dict[str, float]:
    """The CPUs (and GPU) a cell asks Ray for, from its strategy's declared capabilities."""
    cls = strategy_class(cell.strategy.name)
    cpus = min(float(TRAIN_CPUS), max(1.0, max_cpus)) if cls.trains_backbone else 1.0
    wants_gpu = bool(getattr(cls, "uses_gpu", False)) and gpus > 0
    return {"num_cpus": cpus, "num_gpus": 1.0 if wants_gpu else 0.0}


@dataclass
class Shipped:
    """What every worker needs, put in the object store once per run."""

    run_id: str
    spec_data: dict[str, Any]
    cache_root: str
    split: Any  # TaskSplit
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)  # {embedding key: (n, d)}
    faults: str | None = None


@dataclass
class ShippedCache(EmbeddingCache):
    """An embedding cache that serves the embeddings the driver shipped before looking on disk."""

    shipped: dict[str, np.ndarray] = field(default_factory=dict)

    def get(self, source: Any, task: Any, layer: str | None = None) -> np.ndarray:
        key = embedding_key(source, layer, task.fingerprint)
        if key in self.shipped:
            self.hits += 1
            return self.shipped[key]
        return super().get(source, task, layer)


_CONTEXTS: dict[str, CellContext] = {}  # per worker process: the context of the run it serves


def run_task(cell: Cell, holder: list[Any], board: Any, threads: int) -> tuple[str, Any]:
    """The body of a Ray task: post the start, build the run's context once per worker, run the cell.

    Returns ``((token of this try, when it began), outcome)``. The start is posted without waiting (no round trip
    on the cell's path); the token returned with the outcome lets the driver count a try whose
    post it has not read yet, and ignore that post when it arrives.

    ``holder`` is ``[run id, reference to the Shipped object, fault file]``: a reference inside a
    list is not fetched by Ray before the call, so a worker fetches it only for its first cell.
    """
    import ray
    import torch

    from transferlab.study.executor import safe_run

    token = uuid.uuid4().hex
    began = time.time()
    board.start.remote(cell.key, token, began)
    torch.set_num_threads(threads)
    run_id, shipped_ref, faults = holder
    if run_id not in _CONTEXTS:
        shipped: Shipped = ray.get(shipped_ref)
        _CONTEXTS.clear()
        cache = ShippedCache(root=shipped.cache_root, shipped=shipped.embeddings)
        _CONTEXTS[run_id] = CellContext(StudySpec.model_validate(shipped.spec_data), cache, split=shipped.split)
    return (token, began), safe_run(cell, _CONTEXTS[run_id], faults)


class StartBoard:
    """A small actor: each try of a cell posts (cell key, token) as it starts; the driver collects them."""

    def __init__(self) -> None:
        self.posts: list[tuple[str, tuple[str, float]]] = []

    def start(self, key: str, token: str, began: float) -> None:
        self.posts.append((key, (token, began)))

    def drain(self) -> list[tuple[str, tuple[str, float]]]:
        posts, self.posts = self.posts, []
        return posts


from transferlab.study.executor import EXECUTORS, ExecutorOptions, OnStart, Outcome  # noqa: E402
from transferlab.study.faults import faults_file  # noqa: E402


@EXECUTORS.register("ray")
class RayExecutor:
    """Cells as Ray tasks, with retries for lost workers and a per-cell timeout."""

    def __init__(self, options: ExecutorOptions | None = None) -> None:
        self.options = options

    def run(self, spec: StudySpec, cells: list[Cell], on_start: OnStart) -> Iterator[Outcome]:
        options = self.options or ExecutorOptions()
        started_here = start_ray(options.address, options.workers)
        import ray

        try:
            yield from RayLoop(ray, options, on_start).run(cells, ship(spec, cells, options))
        finally:
            if started_here:
                ray.shutdown()


def ship(spec: StudySpec, cells: list[Cell], options: ExecutorOptions) -> Shipped:
    """The task and the embeddings of every source the cells read features of (cache hits by now)."""
    from transferlab.study.cell import load_split

    split = options.split if options.split is not None else load_split(spec.task)
    embeddings = {}
    for cell in cells:
        source = options.sources.get(cell.source.label)
        if source is None or strategy_class(cell.strategy.name).input_kind != "features":
            continue
        for part in (split.train, split.test):
            embeddings[embedding_key(source, None, part.fingerprint)] = options.cache.get(source, part)
    return Shipped(uuid.uuid4().hex, spec.model_dump(), str(options.cache.root), split, embeddings, faults_file())


class RayLoop:
    """Submits cells in a window, reports starts, collects outcomes, retries lost tries, enforces the timeout.

    Retries are the driver's, not Ray's (tasks run with ``max_retries=0``): when a worker is lost
    the driver learns it at once (the task's reference fails), so it can count the try, restart
    the cell's clock with its next try, and give up after ``max_retries`` with a clear error.
    """

    def __init__(self, ray: Any, options: ExecutorOptions, on_start: OnStart) -> None:
        self.ray, self.options, self.on_start = ray, options, on_start
        self.started: dict[str, float] = {}  # cell key -> when its current try started
        self.tokens: set[str] = set()  # the tries already reported to on_start
        self.lost: dict[str, int] = {}  # cell key -> tries lost with their worker
        self.drained = 0.0

    def run(self, cells: list[Cell], shipped: Shipped) -> Iterator[Outcome]:
        ray = self.ray
        self.holder = [shipped.run_id, ray.put(shipped), shipped.faults]
        self.board = ray.remote(num_cpus=0)(StartBoard).remote()
        self.task, self.variants = ray.remote(run_task), {}
        self.total = ray.cluster_resources()
        self.node_cpus = max((n["Resources"].get("CPU", 0.0) for n in ray.nodes() if n["Alive"]), default=1.0)
        window = max(4, int(4 * self.total.get("CPU", 1.0)))  # queued at Ray: enough to keep every CPU busy
        queue: deque[Cell] = deque(cells)
        running: dict[Any, Cell] = {}
        try:
            while queue or running:
                while queue and len(running) < window:
                    cell = queue.popleft()
                    running[self._submit(cell)] = cell
                yield from self._step(running, queue)
        finally:
            for ref in running:
                ray.cancel(ref, force=True)
            ray.kill(self.board)

    def _submit(self, cell: Cell) -> Any:
        resources = cell_resources(cell, self.node_cpus, self.total.get("GPU", 0.0))
        shape = tuple(sorted(resources.items()))
        if shape not in self.variants:  # one options object per resource shape, not one per cell
            self.variants[shape] = self.task.options(max_retries=0, retry_exceptions=False, **resources)
        return self.variants[shape].remote(cell, self.holder, self.board, int(resources["num_cpus"]))

    def _step(self, running: dict[Any, Cell], queue: deque[Cell]) -> Iterator[Outcome]:
        ray = self.ray
        ready, _ = ray.wait(list(running), num_returns=1, timeout=POLL_SECONDS)
        if ready:  # and every other one finished by now
            ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
        if time.monotonic() - self.drained >= POLL_SECONDS:  # starts are read a few times a second
            self.drained = time.monotonic()
            by_key = {c.key: c for c in running.values()}
            for key, stamp in ray.get(self.board.drain.remote()):
                if key in by_key:
                    self._started(by_key[key], stamp)
        for ref in ready:
            cell = running.pop(ref)
            outcome = self._outcome(cell, ref)
            if outcome is None:
                queue.appendleft(cell)  # its worker was lost: the cell runs again from scratch
            else:
                yield cell, outcome
        yield from self._expire(running)

    def _started(self, cell: Cell, stamp: tuple[str, float]) -> None:
        """Report a try's start once (a retry after a lost worker is one more try, with its own token).

        The ledger gets the worker's clock (``began``), not when the driver read the post, so that
        durations (and ``status``'s ETA) are right for cells shorter than the polling interval.
        """
        token, began = stamp
        if token not in self.tokens:
            self.tokens.add(token)
            self.started[cell.key] = time.monotonic()
            self.on_start(cell, at=began)

    def _outcome(self, cell: Cell, ref: Any) -> Any:
        """The cell's outcome, or None when its worker was lost and it has tries left."""
        errors = self.ray.exceptions
        try:
            stamp, outcome = self.ray.get(ref)
        except errors.RayTaskError as exc:  # raised outside the cell's own code (which returns its errors)
            return f"RayTaskError: {str(exc).strip().splitlines()[-1][:300]}"
        except errors.RayError as exc:  # the worker (or its node) was lost
            self.started.pop(cell.key, None)
            self.lost[cell.key] = self.lost.get(cell.key, 0) + 1
            if self.lost[cell.key] <= self.options.max_retries:
                return None
            return f"WorkerLost: {type(exc).__name__}: the worker was lost in each of {self.lost[cell.key]} tries"
        self._started(cell, stamp)  # a try whose post was not read yet
        return outcome

    def _expire(self, running: dict[Any, Cell]) -> Iterator[Outcome]:
        timeout = self.options.cell_timeout
        if timeout is None:
            return
        for ref, cell in list(running.items()):
            began = self.started.get(cell.key)
            if began is not None and time.monotonic() - began >= timeout:
                self.ray.cancel(ref, force=True)  # kills the worker running it
                running.pop(ref)
                yield cell, f"TimeoutError: timed out after {timeout:g} s (its worker was stopped)"
