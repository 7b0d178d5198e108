"""The metric registry: pure functions with declared direction and needs.

A metric is a plain function; registering attaches what the runner and the report need to
know about it (capabilities are data): whether higher is better, what it consumes, its kind.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from transferlab.registry import Registry

KINDS = ("task", "transferability", "shift")


@dataclass(frozen=True)
class Metric:
    """A registered metric function and what it needs.

    ``needs`` names the arguments, in order: ``("labels", "proba")`` for task metrics,
    ``("features", "labels")`` for feature-based transferability scores, ``("source_proba",
    "labels")`` for scores that need the source's own classifier (LEEP, NCE).
    """

    name: str
    fn: Callable[..., float]
    higher_is_better: bool
    needs: tuple[str, ...]
    kind: str
    description: str = ""

    def __call__(self, *args: object, **kwargs: object) -> float:
        return self.fn(*args, **kwargs)


METRICS: Registry[Metric] = Registry("metric")


def register_metric(
    name: str, *, higher_is_better: bool, needs: tuple[str, ...], kind: str
) -> Callable[[Callable[..., float]], Callable[..., float]]:
    """Decorator registering a pure metric function; returns the function unchanged."""
    if kind not in KINDS:
        raise ValueError(f"metric kind must be one of {KINDS}, got {kind!r}")

    def add(fn: Callable[..., float]) -> Callable[..., float]:
        doc = (fn.__doc__ or "").strip().splitlines()
        metric = Metric(name, fn, higher_is_better, needs, kind, doc[0] if doc else "")
        METRICS.register(name)(lambda: metric)
        return fn

    return add


def get_metric(name: str) -> Metric:
    """The registered metric ``name``; unknown names list the known ones."""
    from transferlab.metrics import load_builtin_metrics

    load_builtin_metrics()
    return METRICS.create(name)


def list_metrics(kind: str | None = None) -> list[str]:
    """Names of registered metrics, optionally only those of one kind."""
    from transferlab.metrics import load_builtin_metrics

    load_builtin_metrics()
    return [n for n in METRICS.names() if kind is None or METRICS.create(n).kind == kind]
