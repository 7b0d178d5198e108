"""What to do about an alert: each remedy is a command the user can run, with the reason.

* **Covariate shift** (or a kind the tests cannot name): re-adapt the arm to the new traffic with
  a domain-adaptation study: the study's own task as the labelled source, the batch as the
  unlabelled target (``target_dataset``), the adaptation strategies against ``source-only``.
* **Label shift**: the classes whose BBSE weight interval lies above 1 are more frequent now:
  collect labels for those first, then record them with ``monitor label``.
* **Any alert**: once a batch is labelled, re-rank sources on it (``transferlab rank``): the
  source that was best on the study's data need not be best on the new traffic.
"""

from __future__ import annotations

import shlex
from typing import Any

import yaml

from transferlab.monitor.profile import Profile


def write_remedy_specs(result: dict[str, Any]) -> None:
    """Write the spec files the remedies' commands name (``<monitor>/remedies/``)."""
    from pathlib import Path

    from transferlab.durable import write_atomic

    for remedy in result.get("remedies", []):
        if "spec_file" in remedy:
            path = Path(remedy["spec_file"])
            path.parent.mkdir(exist_ok=True)
            write_atomic(path, remedy["spec"])


ADAPTATION = ["source-only", "coral", "self-training", "importance-weighting"]
TEXT_CANDIDATES = ["minilm-l6", "minilm-l3", "e5-multilingual", "use-multilingual"]


def suggest_remedies(profile: Profile, result: dict[str, Any]) -> list[dict[str, str]]:
    """Remedies for a checked batch (none unless it alerted)."""
    if not result["alert"]:
        return []
    kind, path, batch_id = result["diagnosis"]["kind"], result.get("path"), result["batch_id"]
    remedies = []
    if kind in ("covariate", "covariate+label", "undetermined"):
        remedies.append(_readapt(profile, path, batch_id))
    shifted = shifted_classes(result)
    if kind in ("label", "covariate+label") or shifted:
        remedies.append(_collect_labels(profile, batch_id, shifted))
    remedies.append(_rerank(profile, path))
    return remedies


def shifted_classes(result: dict[str, Any]) -> list[str]:
    """Classes BBSE finds more frequent in the batch than in the reference (weight interval above 1)."""
    label_shift = result["tests"].get("label_shift")
    if not label_shift:
        return []
    pairs = zip(label_shift["classes"], label_shift["weights_lo"], strict=True)
    return [name for name, lo in pairs if lo > 1.0]


def _readapt(profile: Profile, path: str | None, batch_id: str) -> dict[str, str]:
    arm = profile.header["arm"]
    # the study's own data is the labelled source; a domain study's split keys would contradict the new target
    dropped = ("domain_column", "source_domains", "target_domains", "target_dataset", "transductive")
    task = {k: v for k, v in arm["task"].items() if v is not None and k not in dropped}
    spec = {
        "name": f"readapt-{batch_id}",
        "task": task | {"target_dataset": path or "<the batch saved as a file>"},
        "sources": [arm["source"]["name"]],
        "strategies": ADAPTATION,
        "budgets": [arm["budget"]],
        "seeds": 3,
    }
    spec_file = str(profile.folder / "remedies" / f"readapt-{batch_id}.yaml")  # written once the batch is recorded
    return {
        "action": "re-adapt with a domain adaptation method",
        "why": "the inputs moved beyond the class mix: adapt the arm to the new traffic and compare each method"
        " with source-only (the study scores them on the target's labels: label a sample of the batch first)",
        "command": f"transferlab run {shlex.quote(spec_file)} --out {shlex.quote(f'runs/readapt-{batch_id}')}",
        "spec_file": spec_file,
        "spec": yaml.safe_dump(spec, sort_keys=False, default_flow_style=None, width=100),
    }


def _collect_labels(profile: Profile, batch_id: str, shifted: list[str]) -> dict[str, str]:
    which = ", ".join(shifted) if shifted else "the classes whose share moved"
    folder = shlex.quote(str(profile.folder))
    return {
        "action": f"collect labels for the shifted classes: {which}",
        "why": "the class mix moved (black-box shift estimation); labels of those classes tell the accuracy and"
        " retrain the head where it matters",
        "command": f"transferlab monitor label {folder} --batch-id {shlex.quote(batch_id)} --labels labels.csv",
    }


def _rerank(profile: Profile, path: str | None) -> dict[str, str]:
    columns = profile.header["columns"]
    source = profile.header["source"]["name"]
    if columns["modality"] == "text":
        candidates = ",".join(dict.fromkeys([source, *TEXT_CANDIDATES]))
        extra = f" --text-column {shlex.quote(columns['inputs'][0])}"
    else:
        candidates, extra = source, ""
    dataset = shlex.quote(path or "batch.csv")
    return {
        "action": "re-rank sources on the new data",
        "why": "once the batch is labelled (a label column), check whether another source now transfers better",
        "command": f"transferlab rank --dataset {dataset} --sources {candidates}{extra}"
        f" --label-column {shlex.quote(columns['label'])}",
    }
