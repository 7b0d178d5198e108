"""A labelled task: inputs, integer labels, class names, modality and a fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

MODALITIES = ("text", "image", "features")


@dataclass(frozen=True)
class TaskData:
    """Examples of one task.

    ``inputs`` is a list of strings (text), an array ``(n, H, W)`` or ``(n, H, W, C)`` (image)
    or an array ``(n, d)`` (features). ``labels`` are integers indexing ``classes``.
    ``fingerprint`` identifies the content (and any transformation applied to it); caches key
    on it, so two tasks with the same fingerprint must hold the same examples in the same order.
    """

    name: str
    inputs: list[str] | np.ndarray
    labels: np.ndarray  # (n,) int64
    classes: tuple[str, ...]
    modality: str
    fingerprint: str
    domains: np.ndarray | None = field(default=None)
    languages: np.ndarray | None = field(default=None)
    split: np.ndarray | None = field(default=None)  # "train" / "test" per example, from a split column

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def subset(self, index: np.ndarray, tag: str = "") -> TaskData:
        """The examples at ``index`` (order kept), with a fingerprint derived from both."""
        index = np.asarray(index, dtype=np.int64)
        inputs = [self.inputs[i] for i in index] if isinstance(self.inputs, list) else self.inputs[index]
        digest = hashlib.sha256(self.fingerprint.encode() + index.tobytes() + tag.encode()).hexdigest()
        return TaskData(
            name=self.name,
            inputs=inputs,
            labels=self.labels[index],
            classes=self.classes,
            modality=self.modality,
            fingerprint=digest[:16],
            domains=None if self.domains is None else self.domains[index],
            languages=None if self.languages is None else self.languages[index],
            split=None if self.split is None else self.split[index],
        )


def fingerprint_of(inputs: list[str] | np.ndarray, labels: np.ndarray, extra: str = "") -> str:
    """A content hash of inputs and labels (16 hex characters)."""
    h = hashlib.sha256(extra.encode())
    if isinstance(inputs, list):
        for text in inputs:
            h.update(str(text).encode("utf-8", "surrogatepass"))
            h.update(b"\x00")
    else:
        array = np.ascontiguousarray(inputs)
        h.update(str((array.dtype, array.shape)).encode())
        h.update(array.tobytes())
    h.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class TaskSplit:
    """A task's training pool (budgets are drawn from it) and its fixed test set.

    A domain study (:mod:`transferlab.data.domains`) also has the *target pool* ``unlabeled``
    (target examples whose inputs adaptation methods see and whose labels they never see; target
    budgets are drawn from it) and ``source_val`` (held-out labelled source examples, for the
    unsupervised validators). ``train`` is then the source's training pool and ``test`` the
    target's test set. ``transductive``: the methods adapt to the test inputs instead of the pool.
    """

    train: TaskData
    test: TaskData
    unlabeled: TaskData | None = None
    source_val: TaskData | None = None
    transductive: bool = False

    @property
    def is_domain(self) -> bool:
        """True for a domain study: labels come from a source domain, the test set from a target."""
        return self.unlabeled is not None

    def parts(self) -> list[TaskData]:
        """Every part a cell may embed: training pool, test set, and the domain parts when present."""
        return [p for p in (self.train, self.test, self.unlabeled, self.source_val) if p is not None]
