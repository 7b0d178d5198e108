"""The spec's language keys: a cross-lingual study is a domain study whose domains are languages.

A language is a domain (:mod:`transferlab.study.domain_spec`): budgets are labelled examples in
the source language(s), the test set is the target language's, and every domain-study arm,
block and check applies. The language keys only name the domains as languages, which adds the
``cross_lingual`` block (transfer matrix, transfer gaps, label equivalence) to the summary:

* one table: ``language_column`` with ``source_languages`` / ``target_languages`` (either list may
  be left out: it is then every other language of the column);
* two tables: ``target_dataset`` with ``source_languages`` / ``target_languages`` naming each
  table's language (checked against the table's own languages when it has them), or
  ``language_column`` to pick rows of each table.

``label_map`` (any domain study) says what each target label is called on the source side:
``{Šport: sports, Drugo: null}``. ``null`` drops that label's target rows; a target label the map
leaves out, or a value that is not a source label, is an error. Source labels no target label maps
onto are dropped too, with a note, so both sides hold the same classes.
"""

from __future__ import annotations

from typing import Any

from transferlab.errors import InputError

LANGUAGE_KEYS = ("language_column", "source_languages", "target_languages", "label_map", "max_chars")
LANGUAGE_HINT = "see the README, 'Across languages'"


def is_language_study(task: Any) -> bool:
    """True when the task names languages (a ``TaskSpec``)."""
    return bool(task.language_column or task.source_languages or task.target_languages)


def check_language_keys(task: Any) -> None:
    """Raise :class:`InputError` for language keys that contradict each other or the domain keys."""
    languages = is_language_study(task)
    if languages and task.domain_column:
        raise InputError(
            "a cross-lingual study names its domains by language: give language_column (not domain_column too);"
            f" {LANGUAGE_HINT}"
        )
    if languages and (task.source_domains or task.target_domains):
        raise InputError(
            "use source_languages / target_languages in a cross-lingual study, not source_domains /"
            f" target_domains; {LANGUAGE_HINT}"
        )
    if languages and not task.target_dataset:
        if not task.language_column:
            raise InputError(
                "source_languages / target_languages are values of a language column: set task.language_column,"
                " or give the target language's table as target_dataset"
            )
        if not (task.source_languages or task.target_languages):
            raise InputError(
                f"language_column {task.language_column!r} is set but no language is named: give target_languages"
                " (and source_languages, or leave it out for every other language)"
            )
    shared = sorted(set(task.source_languages or []) & set(task.target_languages or []))
    if shared:
        raise InputError(f"language {shared[0]!r} is listed as a source and as a target language; list it on one side")
    domain = languages or bool(task.source_domains or task.target_domains or task.target_dataset)
    if task.label_map is not None and not domain:
        raise InputError(
            "label_map renames the target's labels to the source's: it needs a domain or cross-lingual study"
            f" (target_dataset, or a language or domain column); {LANGUAGE_HINT}"
        )


def check_label_map(value: Any) -> Any:
    """``label_map`` as ``{target label: source label or None}`` with string keys and values."""
    if value is None:
        return None
    if not isinstance(value, dict) or not value:
        raise ValueError(f"expected a mapping of target labels to source labels (or null to drop), got {value!r}")
    mapped: dict[str, str | None] = {}
    for key, target in value.items():
        if isinstance(target, bool) or not (target is None or isinstance(target, str | int | float)):
            raise ValueError(f"label_map[{key!r}] must be a source label or null, got {target!r}")
        mapped[str(key)] = None if target is None else str(target)
    if all(v is None for v in mapped.values()):
        raise ValueError("label_map drops every target label (all null); map at least two to source labels")
    return mapped
