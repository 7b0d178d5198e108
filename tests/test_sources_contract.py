"""Contract over the whole source registry: every registered source embeds 3 examples into (3, d)."""

from __future__ import annotations

import numpy as np
import pytest

from transferlab.sources import create_source, list_sources
from transferlab.sources.zoo_text import INFO

NAMES = [name for name in list_sources() if ":" not in name]  # prefix forms need a user's model
TEXTS = ["The central bank raised interest rates again.", "Arsenal won 2-0 at home on Saturday.", "Vlada je sprejela"]


def three_inputs(modality: str) -> list[str] | np.ndarray:
    if modality == "text":
        return TEXTS
    if modality == "image":
        from sklearn.datasets import load_digits

        return load_digits().images[:3].astype(np.float32)  # (3, 8, 8)
    return np.random.default_rng(0).normal(size=(3, 4))  # feature rows


@pytest.mark.parametrize("name", NAMES)
def test_source_embeds_three_examples(name):
    source = create_source(name)
    assert source.name == name and source.modality in ("text", "image", "features")
    assert isinstance(source.revision, str) and source.revision
    features = source.embed(three_inputs(source.modality))
    assert features.dtype == np.float32 and features.ndim == 2
    assert features.shape[0] == 3 and features.shape[1] >= 1
    assert np.isfinite(features).all()
    if source.dim and not getattr(source, "transductive", False):
        assert features.shape[1] == source.dim
    info = INFO[name]  # what `transferlab sources` prints
    assert info.name == name and info.modality == source.modality and info.trainable == source.trainable


def test_frozen_sources_are_not_trainable():
    for name in ("e5-multilingual", "use-multilingual", "glove-50d", "tfidf"):
        assert create_source(name).trainable is False


def test_glove_zero_vector_without_known_words():
    features = create_source("glove-50d").embed(["the market", "zzqxv qqqxz", ""])
    assert np.abs(features[0]).sum() > 0 and not features[1:].any()


def test_tfidf_is_fitted_on_the_texts_it_embeds():
    texts = [f"{topic} news item {i} about {topic} things" for topic in ("sport", "money", "films") for i in range(8)]
    features = create_source("tfidf").embed(texts)
    assert features.shape == (24, 6)  # a quarter of the number of texts, under the 256 cap
    assert np.allclose(np.linalg.norm(features, axis=1), 1.0, atol=1e-5)
