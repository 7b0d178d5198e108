"""A pretrained model seen as a feature extractor (and, where possible, a trainable module)."""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from transferlab.registry import Registry


@dataclass(frozen=True)
class SourceInfo:
    """What ``transferlab sources`` prints about a registered source."""

    name: str
    modality: str
    n_params: int
    dim: int
    trainable: bool
    package: str
    description: str
    # ISO 639-1 codes of the languages the model was trained on (None: not declared, e.g. images or a
    # user's model); a cross-lingual study reads them to tell multilingual sources from the controls
    languages: tuple[str, ...] | None = None


class Source(ABC):
    """Base class of every source.

    Subclasses declare ``modality`` ("text", "image" or "features") and ``trainable`` as class
    attributes (capabilities are data: the runner reads them instead of ``isinstance``).
    ``revision`` is a hash of the weights; ``preprocessing`` describes everything else that
    changes the embedding (max length, pooling, image size): both enter the cache key.
    """

    modality: ClassVar[str] = "text"
    trainable: ClassVar[bool] = False
    has_classifier: ClassVar[bool] = False

    name: str

    @property
    @abstractmethod
    def revision(self) -> str:
        """A stable hash of the weights (16 hex characters)."""

    @property
    def preprocessing(self) -> str:
        """Everything besides the weights that changes the embedding."""
        return ""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Embedding dimension of the default (last) layer."""

    def layers(self) -> list[str]:
        """Layer names ``embed`` accepts; the last is the default."""
        return ["last"]

    @abstractmethod
    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        """Embed ``inputs`` at ``layer`` (default: the last): float32 array ``(n, d)``."""

    def random_twin(self, seed: int = 0) -> Source:
        """The same architecture with randomly initialised weights (the from-scratch baseline)."""
        raise NotImplementedError(f"source {self.name!r} has no randomly initialised twin")

    def n_params(self) -> int:
        """Number of parameters of the model."""
        return 0


SOURCES: Registry[Source] = Registry("source")


def file_digest(paths: Sequence[Path]) -> str:
    """sha256 over the bytes of ``paths`` (16 hex characters): a source's revision."""
    h = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()[:16]


def create_source(name: str, **params: object) -> Source:
    """Build a registered source by name, e.g. ``create_source("minilm-l6")``."""
    from transferlab.sources import load_builtin_sources

    load_builtin_sources()
    return SOURCES.create(name, **params)


def list_sources() -> list[str]:
    """Names of every registered source (prefix forms like ``hf:<path>`` last)."""
    from transferlab.sources import load_builtin_sources

    load_builtin_sources()
    return SOURCES.names()


class Backbone(ABC):
    """A trainable view of a source: ``module`` maps prepared examples to pooled features.

    ``prepare`` runs once per example (tokenisation, image preprocessing) so training epochs
    never repeat it; ``lengths`` lets the trainer batch similar lengths together.
    """

    module: Any  # torch.nn.Module
    dim: int

    @abstractmethod
    def prepare(self, inputs: Sequence[Any] | np.ndarray) -> list[Any]:
        """Per-example model inputs, computed once."""

    def lengths(self, items: list[Any]) -> np.ndarray:
        """Per-example sizes for length-sorted batching (all equal by default)."""
        return np.ones(len(items), dtype=np.int64)

    @abstractmethod
    def forward(self, items: list[Any]) -> Any:
        """Pooled features of a batch of prepared items: tensor (B, dim)."""
