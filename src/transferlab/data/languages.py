"""The two sides of a cross-lingual task: each example's language, and labels named alike on both sides.

A language is a domain: these functions only decide which rows are the source and which the
target, and name each example's language in ``TaskData.languages`` (and ``domains``, which the
domain-study machinery reads). :func:`map_labels` applies a spec's explicit ``label_map``: the
target's labels renamed to the source's, rows of a label mapped to ``None`` dropped, and source
classes no target label maps onto dropped too, each drop said in a :class:`DataWarning` (the
study's notes), never silently.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import numpy as np

from transferlab.data.task import TaskData, fingerprint_of
from transferlab.errors import DataWarning, InputError


def example_languages(task: TaskData, declared: Sequence[str] | None, side: str) -> TaskData:
    """``task`` with every example's language set: read from the table, or the one language ``declared``.

    A table's languages come from a bundled set (``languages``) or from ``language_column`` (read
    into ``domains``). A table without them must name exactly one language for its side.
    """
    found = task.languages if task.languages is not None else task.domains
    if found is not None:
        return _with_languages(task, np.asarray(found).astype(str))
    if not declared or len(declared) != 1:
        raise InputError(
            f"{task.name}: no language was read for its examples; name its one language in {side}_languages"
            " (e.g. [en]), or set language_column to the column that holds each example's language"
        )
    return _with_languages(task, np.full(len(task), declared[0]))


def select_languages(task: TaskData, wanted: Sequence[str] | None, side: str, column: str) -> TaskData:
    """The examples of ``task`` whose language is in ``wanted`` (all of them when None)."""
    assert task.languages is not None  # set by example_languages
    present = sorted(set(task.languages.tolist()))
    missing = [name for name in wanted or [] if name not in present]
    if missing:
        raise InputError(
            f"{task.name}: {side}_languages {missing} have no examples in {column}; its languages are:"
            f" {', '.join(present)}"
        )
    if not wanted:
        return task
    return task.subset(np.flatnonzero(np.isin(task.languages, list(wanted))), f"{side}:" + ",".join(wanted))


def split_by_language(
    task: TaskData, source: Sequence[str] | None, target: Sequence[str] | None, column: str
) -> tuple[TaskData, TaskData]:
    """One table's source and target sides; a side left out is every other language of ``column``."""
    assert task.languages is not None
    present = sorted(set(task.languages.tolist()))
    select_languages(task, list(source or []) + list(target or []), "source/target", f"column {column!r}")
    source = list(source or [name for name in present if name not in (target or [])])
    target = list(target or [name for name in present if name not in source])
    if not target:
        raise InputError(f"{task.name}: no target language is left once the source languages are taken; name one")
    where = f"column {column!r}"
    return select_languages(task, source, "source", where), select_languages(task, target, "target", where)


def check_languages_apart(source: TaskData, target: TaskData) -> None:
    """Raise when a language is on both sides: the transfer matrix needs each language on one side."""
    assert source.languages is not None and target.languages is not None
    shared = sorted(set(source.languages.tolist()) & set(target.languages.tolist()))
    if shared:
        raise InputError(
            f"language {shared[0]!r} has examples on the source and on the target side; a cross-lingual study"
            " needs each language on one side: name the languages with source_languages / target_languages"
        )


def map_labels(source: TaskData, target: TaskData, label_map: Mapping[str, str | None]) -> tuple[TaskData, TaskData]:
    """Both sides over the source's names of the mapped classes (see the module docstring)."""
    target_labels = _present(target)
    source_labels = _present(source)
    for name in label_map:
        if name not in target_labels:
            raise InputError(
                f"label_map: {name!r} is not a label of the target {target.name}; its labels are:"
                f" {', '.join(target_labels)}"
            )
    for name in target_labels:
        if name not in label_map:
            raise InputError(
                f"label_map does not say what the target label {name!r} becomes; map it to a source label"
                f" ({', '.join(source_labels)}) or to null to drop its rows"
            )
    for name, onto in label_map.items():
        if onto is not None and onto not in source_labels:
            raise InputError(
                f"label_map maps {name!r} onto {onto!r}, which is not a label of the source {source.name}; its"
                f" labels are: {', '.join(source_labels)}"
            )
    classes = tuple(sorted({onto for onto in label_map.values() if onto is not None}))
    dropped = sorted(name for name, onto in label_map.items() if onto is None)
    unclaimed = sorted(set(source_labels) - set(classes))
    target_names = np.array([label_map[str(n)] or "" for n in np.array(target.classes)[target.labels]])  # "": dropped
    target = _recoded(target, target_names, classes, f"label_map maps {', '.join(dropped)} to null")
    source_names = np.array(source.classes)[source.labels]
    source = _recoded(source, source_names, classes, f"no target label maps onto {', '.join(unclaimed)}")
    return source, target


def _present(task: TaskData) -> list[str]:
    return [task.classes[i] for i in np.unique(task.labels)]


def _recoded(task: TaskData, names: np.ndarray, classes: tuple[str, ...], why: str) -> TaskData:
    """The rows whose name is in ``classes``, labels re-coded over ``classes``; a note says what was dropped."""
    keep = np.isin(names, classes)
    if not keep.all():
        message = f"{task.name}: {int((~keep).sum())} of {len(task)} rows left out: {why} (label_map)"
        warnings.warn(message, DataWarning, stacklevel=3)
    part = task.subset(np.flatnonzero(keep), "label_map")
    labels = np.array([classes.index(str(n)) for n in names[keep]], dtype=np.int64)
    fingerprint = fingerprint_of([], labels, part.fingerprint + "|label_map|classes=" + ",".join(classes))
    return TaskData(**{**part.__dict__, "labels": labels, "classes": classes, "fingerprint": fingerprint})


def clip_texts(task: TaskData, max_chars: int | None) -> TaskData:
    """Each text cut to its first ``max_chars`` characters (a BBC article's headline and lead)."""
    if not max_chars:
        return task
    if task.modality != "text":
        raise InputError(f"max_chars cuts texts, and the inputs of {task.name} are {task.modality}; remove it")
    texts = [str(t)[:max_chars] for t in task.inputs]
    fingerprint = fingerprint_of(texts, task.labels, f"{task.fingerprint}|max_chars={max_chars}")
    return TaskData(**{**task.__dict__, "inputs": texts, "fingerprint": fingerprint})


def _with_languages(task: TaskData, languages: np.ndarray) -> TaskData:
    return TaskData(**{**task.__dict__, "languages": languages, "domains": languages})
