"""The target-label guard: what ``fit`` receives as the unlabelled target pool in a domain study.

Target labels exist in a domain study (they score the test set), so "methods never see them" must
be enforced, not promised. The pool reaches ``fit`` as :class:`UnlabelledTarget`: an
:class:`~transferlab.strategies.base.Examples` whose ``inputs`` and ``classes`` read normally and
whose ``labels`` raise :class:`TargetLabelsHiddenError`. It holds no labels at all, so nothing a
strategy does can recover them; the error says what to use instead. A strategy that reads them
fails its cell with that message (``tests/test_domain_study.py`` registers one to prove it).
"""

from __future__ import annotations

from typing import Any, NoReturn

from transferlab.strategies.base import Examples


class TargetLabelsHiddenError(RuntimeError):
    """Raised when a strategy reads the labels of the unlabelled target pool."""


class UnlabelledTarget(Examples):
    """Target inputs without labels: ``labels`` raises :class:`TargetLabelsHiddenError`."""

    def __init__(self, inputs: Any, classes: tuple[str, ...]) -> None:
        # Examples is a frozen dataclass: set the two fields it has without going through __init__,
        # so no labels are ever stored here
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "domains", None)

    @property  # type: ignore[override]
    def labels(self) -> NoReturn:
        raise TargetLabelsHiddenError(
            "target labels are not available to fit: the unlabelled target pool carries inputs only (target"
            " labels score the test set, never train or select a model); use unlabeled.inputs"
        )

    def __repr__(self) -> str:
        return f"UnlabelledTarget(n={len(self.inputs)}, classes={self.classes})"

    def __eq__(self, other: object) -> bool:
        return self is other

    __hash__ = object.__hash__
