"""``identity``: the raw feature columns as the "embedding" (for feature tasks, no pretraining).

It lets a tabular or pre-embedded task go through the same strategies (linear probe, kNN,
prototype) as a pretrained source, so users can bring their own embeddings as a CSV.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.sources.base import SOURCES, Source, SourceInfo
from transferlab.sources.zoo_text import INFO

INFO["identity"] = SourceInfo("identity", "features", 0, 0, False, "-", "the task's own feature columns")


class IdentitySource(Source):
    """Returns the inputs unchanged as float32 ``(n, d)``."""

    modality = "features"
    trainable = False

    def __init__(self) -> None:
        self.name = "identity"

    @property
    def revision(self) -> str:
        return "identity-v1"

    @property
    def dim(self) -> int:
        return 0

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        array = np.asarray(inputs, dtype=np.float32)
        if array.ndim != 2:
            raise InputError(f"source 'identity' needs feature rows (n, d), got an array of shape {array.shape}")
        return array


@SOURCES.register("identity")
def identity() -> IdentitySource:
    """The identity source."""
    return IdentitySource()
