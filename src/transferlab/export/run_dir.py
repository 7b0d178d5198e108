"""A finished run directory read for export, and each arm's record: parameters, metrics, tags.

Everything here reads and checks; nothing writes. An exporter calls :func:`read_run` and
:func:`arm_records` first, so a run directory that is not finished, or not a run directory at
all, fails with one line before any tracking store is touched.

Names follow what the tracking tools accept (MLflow: letters, digits, ``_ - . /`` and spaces):
a baseline ``scratch (minilm-l6)`` becomes ``scratch_minilm-l6`` in ``gain.scratch_minilm-l6``.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from transferlab.errors import InputError

ARTIFACTS = ("report.html", "summary.json", "spec.yaml", "environment.json")


@dataclass(frozen=True)
class FinishedRun:
    """What an export needs from a run directory."""

    path: Path  # resolved
    study: str
    summary: dict[str, Any]
    spec: dict[str, Any]
    artifacts: tuple[Path, ...]  # the files to attach (report first)

    @property
    def identity(self) -> str:
        """Who this run is in a tracking store: its resolved path (export it again: same identity)."""
        return hashlib.sha256(str(self.path).encode()).hexdigest()[:24]


@dataclass(frozen=True)
class ArmRecord:
    """One (source, strategy, budget) arm as a tracking run."""

    key: str  # "source|strategy|budget"
    name: str
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str] = field(default_factory=dict)


def read_run(run_dir: str | Path) -> FinishedRun:
    """Read a finished run directory; a missing folder or summary is one :class:`InputError` line."""
    path = Path(run_dir).expanduser().resolve()
    if not path.is_dir():
        raise InputError(f"run directory {str(run_dir)!r} does not exist; give a folder written by `transferlab run`")
    summary = _read_json(path / "summary.json", path)
    entries = summary.get("entries") if isinstance(summary, dict) else None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and _is_entry(e) for e in entries):
        raise InputError(f"{path / 'summary.json'}: expected a study summary with a list of 'entries'")
    spec_path = path / "spec.yaml"
    try:
        spec = yaml.safe_load(spec_path.read_text(encoding="utf-8")) if spec_path.is_file() else {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"{spec_path}: not readable YAML ({str(exc).splitlines()[0]})") from None
    study = str(summary.get("study") or (spec or {}).get("name") or path.name)
    artifacts = tuple(path / name for name in ARTIFACTS if (path / name).is_file())
    return FinishedRun(path, study, summary, spec or {}, artifacts)


def _read_json(file: Path, run_dir: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"{str(run_dir)!r} has no {file.name}: not a finished run directory; finish it with"
            " `transferlab run`, or rebuild its outputs with `transferlab report`"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{file}: not valid JSON ({exc}); rebuild it with `transferlab report`") from None


def _is_entry(entry: dict[str, Any]) -> bool:
    return all(key in entry for key in ("source", "strategy", "budget", "mean"))


def safe_name(text: str) -> str:
    """``text`` with every run of characters a tracking key may not hold replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9_\-.]+", "_", text).strip("_") or "_"


def study_params(run: FinishedRun) -> dict[str, str]:
    """Parameters of the study as a whole (the parent run)."""
    s, task = run.summary, run.summary.get("task") or {}
    values = {
        "study": run.study,
        "dataset": task.get("dataset", (run.spec.get("task") or {}).get("dataset")),
        "modality": task.get("modality"),
        "primary_metric": s.get("primary_metric"),
        "confidence": s.get("confidence"),
        "min_effect": s.get("min_effect"),
        "budgets": s.get("budgets"),
        "seeds": s.get("seeds"),
        "n_test": task.get("n_test"),
    }
    return {k: _text(v) for k, v in values.items() if v is not None}


def arm_records(run: FinishedRun) -> list[ArmRecord]:
    """One record per summary entry: an arm at a budget (a label-free arm appears at every budget)."""
    shared = {k: v for k, v in study_params(run).items() if k in ("dataset", "primary_metric", "confidence")}
    return [_record(entry, shared, run.summary.get("primary_metric", "accuracy")) for entry in run.summary["entries"]]


def _record(entry: dict[str, Any], shared: dict[str, str], metric: str) -> ArmRecord:
    source, strategy, budget = str(entry["source"]), str(entry["strategy"]), int(entry["budget"])
    params = {"source": source, "strategy": strategy, "budget": str(budget), **shared}
    for key in ("role", "labels_used"):
        if key in entry:
            params[key] = _text(entry[key])
    metrics, tags = arm_metrics(entry, metric)
    name = f"{strategy} | {source} | budget {budget}"
    return ArmRecord(f"{source}|{strategy}|{budget}", name, params, metrics, tags)


def arm_metrics(entry: dict[str, Any], metric: str) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, verdict tags) of one entry: task metrics, the primary one's interval ends, cost, gains.

    The summary holds the primary metric oriented so that higher is better (``nll`` as its
    negative); here it is given back in its own units, so ``nll.lo <= nll <= nll.hi``.
    """
    metrics = {safe_name(k): float(v) for k, v in (entry.get("metrics") or {}).items() if _number(v)}
    sign = -1.0 if metric == "nll" else 1.0
    ends = [entry.get("lo"), entry.get("hi")]
    if all(_number(v) for v in ends):
        low, high = sorted(sign * float(v) for v in ends)
        metrics.update({f"{safe_name(metric)}.lo": low, f"{safe_name(metric)}.hi": high})
    metrics.update({f"cost.{safe_name(k)}": float(v) for k, v in (entry.get("cost") or {}).items() if _number(v)})
    if _number(entry.get("n_seeds")):
        metrics["n_seeds"] = float(entry["n_seeds"])
    tags = {}
    for baseline, gain in (entry.get("gains") or {}).items():
        key = f"gain.{safe_name(baseline)}"
        for suffix, part in (("", "gain"), (".lo", "lo"), (".hi", "hi")):
            if _number(gain.get(part)):
                metrics[key + suffix] = float(gain[part])
        if "verdict" in gain:
            tags[f"verdict.{safe_name(baseline)}"] = str(gain["verdict"])
    return metrics, tags


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)
