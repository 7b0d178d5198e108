"""The spec's domain keys: how a task names its source and target domains, checked before any data loads.

A task is a *domain study* when it names a target: ``domain_column`` with ``source_domains`` /
``target_domains`` (one table), or ``target_dataset`` (a second table with the same columns).
Budgets are then labelled source examples and the test set is the target's
(:mod:`transferlab.data.domains`). Strategies that adapt to a target (``uses_unlabeled_target``)
or train on target labels (``needs_target_labels``) only make sense there, so a plain study
that lists one is refused here with one line, rather than failing in every cell.
"""

from __future__ import annotations

from typing import Any

from transferlab.errors import InputError

DOMAIN_KEYS = ("source_domains", "target_domains", "target_dataset", "target_test_size", "transductive")
DEFAULT_TARGET_TEST_SIZE = 0.5
DOMAIN_HINT = (
    "name the domains in the task: domain_column with source_domains / target_domains, or target_dataset"
    " (see the README, 'Domain studies')"
)


def domain_names(value: Any) -> Any:
    """Domain values as strings: YAML reads ``[0, 15]`` (angles) as numbers and ``books`` as one name."""
    if value is None:
        return None
    items = value if isinstance(value, list) else [value]
    if any(isinstance(v, bool) or not isinstance(v, str | int | float) for v in items):
        raise ValueError(f"expected a list of domain names (the values of domain_column), got {value!r}")
    return [str(v) for v in items]


def check_domain_keys(task: Any) -> None:
    """Raise :class:`InputError` for domain keys that contradict each other (a ``TaskSpec``)."""
    named = bool(task.source_domains or task.target_domains)
    if named and not task.domain_column:
        raise InputError(
            "source_domains / target_domains are values of a domain column: set task.domain_column"
            " (e.g. domain_column: domain)"
        )
    if named and task.target_dataset:
        raise InputError(
            "give either target_dataset (the target in a second table) or source_domains / target_domains"
            " (domains of one table), not both"
        )
    shared = sorted(set(task.source_domains or []) & set(task.target_domains or []))
    if shared:
        raise InputError(f"domain {shared[0]!r} is listed as a source and as a target domain; list it on one side")
    is_domain = named or bool(task.target_dataset) or bool(getattr(task, "is_language_study", False))
    if is_domain and task.split_column:
        raise InputError("a domain study splits by domain: drop split_column (the test set is the target's)")
    unused = [k for k in ("target_test_size", "transductive") if getattr(task, k) not in (None, False)]
    if unused and not is_domain:
        raise InputError(f"{unused[0]} applies to a domain study only; {DOMAIN_HINT}")


def check_domain_study(spec: Any) -> None:
    """Raise for arms or keys that need a domain study in a spec without one (a ``StudySpec``)."""
    from transferlab.strategies import strategy_class

    arms = spec.strategies + spec.baselines
    if not spec.task.is_domain_study:
        for arm in arms:
            cls = strategy_class(arm.name)
            if cls.uses_unlabeled_target or cls.needs_target_labels:
                need = "adapts to a target domain" if cls.uses_unlabeled_target else "trains on target labels"
                raise InputError(f"strategy {arm.name!r} {need}, and the task names none; {DOMAIN_HINT}")
        if spec.target_budgets is not None:
            raise InputError(f"target_budgets applies to a domain study only; {DOMAIN_HINT}")
        return
    if not any(t > 0 for t in spec.target_budget_list):
        for arm in arms:
            if strategy_class(arm.name).needs_target_labels:
                raise InputError(
                    f"strategy {arm.name!r} trains on labelled target examples only: give target_budgets with a"
                    " value > 0 (e.g. target_budgets: [0, 20])"
                )


def target_test_size(task: Any) -> float:
    """The share of the target held out as its test set (default 0.5)."""
    return DEFAULT_TARGET_TEST_SIZE if task.target_test_size is None else float(task.target_test_size)
