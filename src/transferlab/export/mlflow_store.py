"""Export a finished run to an MLflow tracking store: one run per arm, nested under one per study.

Layout. The study is a parent run: its settings as parameters, and ``report.html``,
``summary.json``, ``spec.yaml`` and ``environment.json`` as artifacts (once, not copied into every
arm). Each (source, strategy, budget) arm is a child run (``mlflow.parentRunId``): its identity as
parameters; the task metrics, the primary metric's interval ends (``accuracy.lo``,
``accuracy.hi``), cost (``cost.*``), n_seeds and each gain over a baseline with its interval
(``gain.<baseline>``, ``.lo``, ``.hi``) as metrics; the verdicts as tags (``verdict.<baseline>``).

Store. By default ``$MLFLOW_TRACKING_URI``, else ``sqlite:///mlflow.db`` in the current folder,
MLflow's own default, which ``mlflow ui`` opens. SQLite rather than a folder of files: MLflow 3
keeps its file store in maintenance mode (it refuses to open one unless told to) and SQLite
searches runs by tag, which is how an export finds what it wrote before. Artifacts of a new
experiment in a SQLite store go to ``mlartifacts/<experiment>`` beside the database file.

Exporting again. Every run is tagged with a key made of the run directory's resolved path and
the arm, so exporting the same directory again updates its runs (new metric values, the same
run ids) instead of adding copies. A run whose parameters changed (the spec's ``confidence``
was edited, say) is replaced. If writing fails part way, the runs this export created are
deleted again and the error is one line; a run it was updating keeps its earlier values.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from transferlab.errors import InputError, first_line
from transferlab.export.run_dir import ArmRecord, FinishedRun, arm_records, read_run, safe_name, study_params

KEY_TAG = "transferlab.key"


@dataclass(frozen=True)
class ExportResult:
    """Where an export went and what it did."""

    tracking_uri: str
    experiment: str
    study: str
    arms: int
    parent_run_id: str  # the study's run; the arms' runs are its children
    created: int
    updated: int


def export_mlflow(run_dir: str | Path, tracking_uri: str | None = None, experiment: str | None = None) -> ExportResult:
    """Log a finished run directory to MLflow (see the module docstring); returns what was written."""
    run = read_run(run_dir)
    records = arm_records(run)  # everything is read and checked before the store is touched
    uri = resolve_tracking_uri(tracking_uri)
    name = experiment or run.study
    client, experiment_id = open_experiment(uri, name)
    from mlflow.exceptions import MlflowException  # importable: open_experiment checked the install

    writer = _Writer(client, experiment_id, run)
    try:
        parent = writer.upsert(run.identity, run.study, study_params(run), {}, {"transferlab.kind": "study"})
        for path in run.artifacts:
            client.log_artifact(parent, str(path))
        for record in records:
            tags = {
                **record.tags,
                "transferlab.kind": "arm",
                "transferlab.arm": record.key,
                "mlflow.parentRunId": parent,
            }
            writer.upsert(f"{run.identity}|{record.key}", record.name, record.params, record.metrics, tags)
    except (MlflowException, OSError) as exc:
        writer.roll_back()
        raise InputError(
            f"MLflow export to {uri!r} failed ({first_line(exc)}); the runs it had created were deleted"
        ) from None
    return ExportResult(uri, name, run.study, len(records), parent, writer.created_count, writer.updated_count)


def resolve_tracking_uri(tracking_uri: str | None) -> str:
    """The store to write: the given URI, ``$MLFLOW_TRACKING_URI``, or ``sqlite:///<cwd>/mlflow.db``."""
    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path.cwd() / 'mlflow.db'}"
    if "://" not in uri:
        if Path(uri).suffix in (".db", ".sqlite"):
            uri = f"sqlite:///{Path(uri).expanduser().resolve()}"
        else:
            raise InputError(
                f"tracking URI {uri!r} is not a URI; give sqlite:///path/to/mlflow.db (a local store)"
                " or the http(s):// address of an MLflow server"
            )
    if uri.startswith("sqlite:"):
        check_sqlite_writable(uri)
    return uri


def check_sqlite_writable(uri: str) -> None:
    """Raise unless the SQLite file of ``uri`` can be created or written (before anything is written)."""
    path = sqlite_path(uri)
    if str(path) in ("", ".", ":memory:"):
        raise InputError(f"tracking URI {uri!r}: an in-memory database would be lost; give a file")
    folder = path.parent
    if not folder.is_dir() or not os.access(folder, os.W_OK | os.X_OK):
        raise InputError(f"tracking URI {uri!r}: folder {str(folder)!r} does not exist or is not writable")
    if path.exists() and (not path.is_file() or not os.access(path, os.R_OK | os.W_OK)):
        raise InputError(f"tracking URI {uri!r}: {str(path)!r} is not a writable file")


def sqlite_path(uri: str) -> Path:
    """The file of a ``sqlite:///`` URI as SQLAlchemy reads it: ``sqlite:////abs.db`` or ``sqlite:///rel.db``."""
    return Path(uri.removeprefix("sqlite:").removeprefix("///").split("?", 1)[0])


def open_experiment(uri: str, name: str) -> tuple[Any, str]:
    """A client of the store and the id of experiment ``name`` (created when new)."""
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise InputError("export --mlflow needs: pip install 'transferlab[mlflow]'") from exc
    for logger in ("mlflow", "alembic"):  # schema creation logs at INFO, which would read as noise
        logging.getLogger(logger).setLevel(logging.WARNING)
    try:
        client = MlflowClient(tracking_uri=uri)
        with _quick_first_request():
            found = client.get_experiment_by_name(name)
        if found is None:
            return client, client.create_experiment(name, artifact_location=_artifact_root(uri, name))
    except Exception as exc:  # an unreachable server, an unknown scheme, a locked or corrupt file
        raise InputError(f"cannot write to MLflow tracking URI {uri!r}: {first_line(exc)}") from None
    if found.lifecycle_stage != "active":
        raise InputError(f"MLflow experiment {name!r} is deleted in {uri!r}; restore it, or pass --experiment NAME")
    return client, found.experiment_id


@contextlib.contextmanager
def _quick_first_request() -> Iterator[None]:
    """Fewer, shorter retries for the first request, unless the user set them: MLflow's defaults
    (7 retries with exponential backoff) take about four minutes to report a server that is down."""
    defaults = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "20"}
    added = [key for key in defaults if key not in os.environ]
    os.environ.update({key: defaults[key] for key in added})
    try:
        yield
    finally:
        for key in added:
            os.environ.pop(key, None)


def _artifact_root(uri: str, name: str) -> str | None:
    if not uri.startswith("sqlite:"):
        return None  # a server or other store decides where artifacts go
    return (sqlite_path(uri).resolve().parent / "mlartifacts" / safe_name(name)).as_uri()


class _Writer:
    """Creates or updates runs found by their key tag, remembering what it created (to roll back)."""

    def __init__(self, client: Any, experiment_id: str, run: FinishedRun) -> None:
        self.client = client
        self.experiment_id = experiment_id
        self.run_dir = str(run.path)
        self.created: list[str] = []
        self.created_count = 0
        self.updated_count = 0

    def upsert(
        self, key: str, name: str, params: dict[str, str], metrics: dict[str, float], tags: dict[str, str]
    ) -> str:
        from mlflow.entities import Metric, Param, RunTag

        run_id = self._reusable(key, params)
        fresh = run_id is None
        if run_id is None:
            run_id = self.client.create_run(self.experiment_id, run_name=name).info.run_id
            self.created.append(run_id)
        now = int(time.time() * 1000)
        all_tags = {**tags, KEY_TAG: key, "transferlab.run_dir": self.run_dir, "mlflow.runName": name}
        self.client.log_batch(
            run_id,
            metrics=[Metric(k, v, now, 0) for k, v in sorted(metrics.items())],
            params=[Param(k, v) for k, v in sorted(params.items())] if fresh else [],
            tags=[RunTag(k, v) for k, v in sorted(all_tags.items())],
        )
        self.client.set_terminated(run_id, "FINISHED")
        self.created_count += fresh
        self.updated_count += not fresh
        return run_id

    def _reusable(self, key: str, params: dict[str, str]) -> str | None:
        """The active run with this key if its parameters are unchanged; a changed one is deleted."""
        runs = self.client.search_runs([self.experiment_id], f"tags.`{KEY_TAG}` = '{key}'", max_results=5)
        for found in runs[1:]:  # duplicates can only come from concurrent exports: keep the first
            self.client.delete_run(found.info.run_id)
        if not runs:
            return None
        if {k: runs[0].data.params.get(k) for k in params} == params:
            return runs[0].info.run_id
        self.client.delete_run(runs[0].info.run_id)  # MLflow parameters are immutable: replace the run
        return None

    def roll_back(self) -> None:
        for run_id in self.created:
            with contextlib.suppress(Exception):  # best effort: the error that stopped the export is the one to report
                self.client.delete_run(run_id)


__all__ = ["ArmRecord", "ExportResult", "export_mlflow", "resolve_tracking_uri"]
