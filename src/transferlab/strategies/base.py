"""The strategy contract: how a source becomes a predictor for the target task.

scikit-learn style: hyper-parameters in ``__init__`` (stored as given, no logic), data in
``fit``, learned state ends in ``_``, randomness through ``random_state``. Capabilities are
class attributes the runner reads (never ``isinstance`` checks):

``needs_labels``          False for zero-shot: it runs once, without a budget.
``trains_backbone``       True when the source's weights change (the cost is then real).
``uses_unlabeled_target`` True when ``fit`` uses the unlabelled target inputs.
``needs_target_labels``   True when ``fit`` trains on labelled *target* examples only (a domain
                          study's ``target_budgets``; ``train.domains`` marks them).
``uses_source``           False for no-transfer baselines that ignore the source (tfidf-logreg).
``input_kind``            "features": ``fit``/``predict_proba`` get cached embeddings (n, d);
                          "raw": they get the raw inputs and the :class:`Source` itself.
``modalities``            input modalities the strategy can handle.
``modality_required``     True when listing it on a task of another modality is a mistake to
                          report (devise, fpt, in-context), not an arm to skip with a note.
``is_baseline``           True for the no-transfer arms every transfer arm is compared with.
"""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.registry import Registry


@dataclass(frozen=True)
class Examples:
    """Inputs (features ``(n, d)`` or raw inputs) with integer labels and the class names.

    ``domains`` (a domain study's training set only): ``"source"`` or ``"target"`` per example, the
    latter for the labelled target examples of a target budget.
    """

    inputs: Any
    labels: np.ndarray | None
    classes: tuple[str, ...]
    domains: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.inputs)


class Strategy(ABC):
    """Base class of every strategy (see the module docstring for the capability attributes)."""

    name: ClassVar[str] = ""
    needs_labels: ClassVar[bool] = True
    trains_backbone: ClassVar[bool] = False
    uses_unlabeled_target: ClassVar[bool] = False
    needs_target_labels: ClassVar[bool] = False
    uses_source: ClassVar[bool] = True
    input_kind: ClassVar[str] = "features"
    modalities: ClassVar[tuple[str, ...]] = ("text", "image", "features")
    modality_required: ClassVar[bool] = False
    is_baseline: ClassVar[bool] = False

    random_state: int | None

    @abstractmethod
    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> Strategy:
        """Learn from the labelled budget (and unlabelled target inputs when declared)."""

    @abstractmethod
    def predict_proba(self, inputs: Any) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``, columns in the order of ``classes``."""

    def predict_proba_source(self, inputs: Any) -> np.ndarray:
        """Probabilities for *source-domain* inputs (validating on the source without target labels).

        ``predict_proba`` serves the target. The two differ only for a method that maps the
        domains differently (CORAL re-colours source features, AdaBN normalises each domain
        with its own statistics); by default they are the same.
        """
        return self.predict_proba(inputs)

    def check(self, source: Any = None) -> None:  # noqa: B027 - an optional hook: no check by default
        """Raise :class:`InputError` if the parameters cannot work (with ``source``, when it is used).

        The runner calls it for every (source, strategy) pair before any cell runs, so a wrong
        parameter stops the study with one line instead of failing each of its cells; ``fit``
        calls it too. The default checks nothing.
        """

    def check_classes(self, classes: tuple[str, ...]) -> None:  # noqa: B027 - an optional hook, like check
        """Raise :class:`InputError` if the strategy cannot work with the task's class names.

        Called before any cell runs, after :meth:`check`; the default checks nothing.
        """

    def get_params(self) -> dict[str, Any]:
        """Hyper-parameters as given to ``__init__`` (they enter the cell key)."""
        names = [p for p in inspect.signature(type(self).__init__).parameters if p != "self"]
        return {n: getattr(self, n) for n in names if n != "random_state"}

    def trainable_parameters(self) -> int:
        """Number of parameters ``fit`` trained (0 before ``fit``)."""
        return 0


STRATEGIES: Registry[Strategy] = Registry("strategy")


def register_strategy(name: str) -> Any:
    """Class decorator: register a :class:`Strategy` subclass under ``name``."""

    def add(cls: type[Strategy]) -> type[Strategy]:
        cls.name = name
        STRATEGIES.register(name)(cls)
        return cls

    return add


def create_strategy(name: str, **params: Any) -> Strategy:
    """Build a registered strategy, e.g. ``create_strategy("linear-probe", random_state=0)``."""
    from transferlab.strategies import load_builtin_strategies

    load_builtin_strategies()
    cls = STRATEGIES.factory(name)
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise InputError(f"strategy {name!r} has no parameter {unknown[0]!r}; its parameters: {', '.join(allowed)}")
    return cls(**params)


def strategy_class(name: str) -> type[Strategy]:
    """The registered class (capabilities are readable without building one)."""
    from transferlab.strategies import load_builtin_strategies

    load_builtin_strategies()
    return STRATEGIES.factory(name)  # type: ignore[return-value]


def list_strategies() -> list[str]:
    """Names of every registered strategy and baseline."""
    from transferlab.strategies import load_builtin_strategies

    load_builtin_strategies()
    return STRATEGIES.names()


def check_positive(owner: str, **values: float) -> None:
    """Raise the standard parameter error for any value that is not > 0."""
    for param, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            raise bad_parameter(owner, param, value, "a number > 0")


def check_int_range(owner: str, param: str, value: object, low: int, high: int, what: str = "") -> None:
    """Raise the standard parameter error unless ``value`` is an integer (not a bool) in [low, high]."""
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise bad_parameter(owner, param, value, f"an integer in [{low}, {high}]{what}")


def full_proba(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Expand probabilities over the classes a model saw to all ``n_classes`` columns."""
    out = np.zeros((proba.shape[0], n_classes), dtype=np.float64)
    out[:, seen] = proba
    return out
