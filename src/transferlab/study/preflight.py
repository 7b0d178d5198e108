"""Checks that need the sources themselves, run before the run directory is touched.

The spec validator knows names; only a built source knows its modality, whether its weights can
be trained, which layers LoRA can target and how wide they are. Building each source once here
(seconds) and asking every strategy whether it can work with it turns what would be a failure
in each of dozens of cells into one line and exit code 2 before anything runs. The built
sources are handed on to the in-process executor, so this costs no second load there.
"""

from __future__ import annotations

from transferlab.errors import InputError
from transferlab.sources import Source, create_source
from transferlab.strategies import create_strategy, strategy_class
from transferlab.study.spec import StudySpec


def build_sources(spec: StudySpec) -> dict[str, Source]:
    """Every source of the spec, built once, keyed by its arm label."""
    return {arm.label: create_source(arm.name, **arm.params) for arm in spec.sources}


def check_arms(spec: StudySpec, modality: str, sources: dict[str, Source]) -> None:
    """Raise :class:`InputError` for a source or (source, strategy) pair that cannot run on the task."""
    for label, source in sources.items():
        _check_source(label, source, modality)
    for arm in spec.strategies + spec.baselines:
        cls = strategy_class(arm.name)
        if modality not in cls.modalities:
            continue  # the planner skips it with a note
        strategy = create_strategy(arm.name, **arm.params)
        for source in sources.values() if cls.uses_source else [None]:
            strategy.check(source)


def _check_source(label: str, source: Source, modality: str) -> None:
    if source.modality != modality:
        raise InputError(f"source {label!r} embeds {source.modality} inputs, but the task's inputs are {modality}")
    if getattr(source, "transductive", False):
        raise InputError(
            f"source {label!r} is fitted on the texts it embeds, and a study embeds its training pool and"
            " test set apart, in two unrelated bases; use the tfidf-logreg baseline for that comparison,"
            " or the source in `transferlab rank`"
        )
