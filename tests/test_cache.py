"""The embedding cache: content-addressed, computed once, never stale, never pickled."""

from __future__ import annotations

import numpy as np
import pytest

from transferlab.data import TaskData, fingerprint_of
from transferlab.sources import create_source
from transferlab.sources.cache import EmbeddingCache, embedding_key


def _task(texts: list[str]) -> TaskData:
    labels = np.arange(len(texts)) % 2
    return TaskData("t", texts, labels, ("a", "b"), "text", fingerprint_of(texts, labels))


@pytest.fixture(scope="module")
def minilm():
    return create_source("minilm-l6")


def test_warm_cache_computes_nothing(tmp_path, minilm):
    task = _task(["a short text", "another one", "a third, longer text about football"])
    cold = EmbeddingCache(tmp_path)
    first = cold.get(minilm, task)
    assert (cold.misses, cold.hits) == (1, 0) and cold.embed_seconds > 0
    warm = EmbeddingCache(tmp_path)
    second = warm.get(minilm, task)
    assert (warm.misses, warm.hits, warm.embed_seconds) == (0, 1, 0.0)
    assert np.array_equal(first, second) and second.dtype == np.float32
    assert np.allclose(second, minilm.embed(task.inputs), atol=1e-6)


def test_key_changes_with_data_layer_and_weights(minilm):
    base = embedding_key(minilm, None, "abc")
    assert base == embedding_key(minilm, "last", "abc")
    assert base != embedding_key(minilm, "layer-3", "abc") != embedding_key(minilm, None, "abd")
    assert base != embedding_key(minilm.random_twin(0), None, "abc")


def test_corrupt_or_mismatched_entry_is_recomputed(tmp_path, minilm):
    task = _task(["one text", "two texts"])
    cache = EmbeddingCache(tmp_path)
    path = cache.path(embedding_key(minilm, None, task.fingerprint))
    features = cache.get(minilm, task)
    path.write_bytes(b"not a numpy file")
    again = EmbeddingCache(tmp_path)
    assert np.allclose(again.get(minilm, task), features) and again.misses == 1
    np.save(path, np.zeros((5, 384), dtype=np.float32))  # wrong row count
    assert np.allclose(EmbeddingCache(tmp_path).get(minilm, task), features)


def test_entries_are_plain_npy_without_pickle(tmp_path, minilm):
    task = _task(["plain", "arrays"])
    cache = EmbeddingCache(tmp_path)
    cache.get(minilm, task)
    files = list(tmp_path.rglob("*.npy"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.tmp*"))
    assert np.load(files[0], allow_pickle=False).shape == (2, 384)
