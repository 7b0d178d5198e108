"""A domain study's outputs that need models: the ``shift`` block of summary.json, one entry per source.

Each source's entry is :func:`~transferlab.metrics.shift_block.shift_block` (MMD permutation test,
classifier two-sample test and proxy A-distance, black-box shift estimation, the class-prior and
class-conditional tests, the Ben-David bound and the plain-language diagnosis) on that source's
cached embeddings of the source training pool and the target test set, with their labels.
Why the target *test* set and not the pool: it is the one target sample whose labels a study
reads (to score), so the pool's labels stay unread by anything but the stratified draw of target
budgets; and the bound's measured target error is then measured where every arm is scored.

Like the transferability block, it is computed once, stored in ``extras/shift.json`` under the
key of its inputs, and reused by ``transferlab report`` until those change; a source that fails
(it cannot load here) is reported in its entry, not raised: the cells' results are already written.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from transferlab.data import TaskSplit
from transferlab.errors import InputError
from transferlab.sources.base import Source
from transferlab.sources.cache import EmbeddingCache
from transferlab.study.files import write_atomic
from transferlab.study.spec import StudySpec

SETTINGS = {"alpha": 0.05, "n_permutations": 1000, "max_samples": 1000, "n_boot": 1000}
VERSION = 1  # bump when what the block computes changes, so stored blocks are not reused


def shift_blocks(
    out: Path, spec: StudySpec, split: TaskSplit, cache: EmbeddingCache | None, sources: dict[str, Source] | None
) -> dict[str, Any]:
    """``{source label: shift block}`` for every source of the study, reused from the run directory when current."""
    labels = [a.label for a in spec.sources]
    inputs = [VERSION, SETTINGS, spec.confidence, spec.task.split_seed, labels, split.train.fingerprint]
    key = hashlib.sha256(json.dumps(inputs + [split.test.fingerprint], default=str).encode()).hexdigest()[:24]
    stored = out / "extras" / "shift.json"
    if stored.is_file():
        saved = json.loads(stored.read_text(encoding="utf-8"))
        if saved.get("key") == key:
            return dict(saved["block"])
    cache, sources = cache or EmbeddingCache(), dict(sources or {})
    block = {arm.label: _one_source(spec, split, arm, cache, sources) for arm in spec.sources}
    stored.parent.mkdir(exist_ok=True)
    write_atomic(stored, json.dumps({"key": key, "block": block}, indent=2))
    return block


def _one_source(spec: StudySpec, split: TaskSplit, arm: Any, cache: EmbeddingCache, sources: dict[str, Source]) -> Any:
    from transferlab.metrics.shift_block import shift_block
    from transferlab.sources import create_source

    try:
        source = sources.get(arm.label) or create_source(arm.name, **arm.params)
        X_source, X_target = cache.get(source, split.train), cache.get(source, split.test)
        block = shift_block(
            X_source,
            X_target,
            split.train.labels,
            split.test.labels,
            classes=list(split.train.classes),
            confidence=spec.confidence,
            random_state=spec.task.split_seed,
            **SETTINGS,  # type: ignore[arg-type]
        )
    except (InputError, OSError, RuntimeError, ValueError) as exc:
        return {"error": f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"}
    return {"samples": "source training pool vs target test set"} | block


def target_arm_params(spec: StudySpec) -> dict[str, dict[str, Any]]:
    """Names and parameters of the ``+N target`` arms, for the summary's short names."""
    arms = spec.strategies + spec.baselines
    return {
        f"{a.label} +{t} target": {"name": f"{a.name} +{t} target", "params": a.params}
        for t in spec.target_budget_list
        if t > 0
        for a in arms
    }
