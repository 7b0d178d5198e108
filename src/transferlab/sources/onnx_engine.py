"""Frozen text embedding through onnxruntime: a torch encoder exported once, in fp32 or int8.

Why. On 256-token BBC articles, minilm-l6's torch path reaches about two thirds of this
machine's fp32 matmul rate; the same weights exported to ONNX and run by onnxruntime with every
graph optimisation (``ORT_ENABLE_ALL``: fused LayerNorm, GELU and attention kernels), on the
same length-sorted, dynamically padded batches, ran 1.4-1.6x faster (``benchmarks/bench_embed.py``
prints the ratio, and which engine each source uses by default).

What is exported. The encoder and the source's pooling, with one output per hidden state
(``layer-0`` ... ``layer-L``, each pooled as ``TorchTextSource`` pools it) and dynamic batch and
sequence axes, so one graph serves every layer and every batch. It is traced on a padded batch,
from a deep copy of the module in eval mode: the exporter restores the training flag of the module
it was given, and a fresh wrapper is in training mode, so a live source exported in place was left
with dropout on (its embeddings moved by up to 2.5).

Where. ``<cache>/onnx/<key>.onnx``; the key hashes the weights as they are in memory (not the
source's revision: a fine-tuned copy of a model must never reuse the pretrained graph), the
pooling, and the torch / onnxruntime versions. Each source checks its weights' in-place version
counters before a call and re-exports when they moved.

Checked. Each graph, when exported and whenever it is loaded, is run against the torch module on
a fixed padded batch: fp32 within max |difference| ``ABS_TOL`` and cosine ``MIN_COSINE`` on every
layer (measured: 3e-7 and 0.9999998 on minilm-l6 and minilm-l3), int8 within the sanity bound
``MIN_COSINE_INT8``; otherwise the engine refuses with one line that says to use engine 'torch'.

int8. ``onnxruntime.quantization.quantize_dynamic`` of the fp32 graph: the weights of every
MatMul with a constant weight (the Linear layers) to int8, one scale per output channel;
activations are quantized per batch at run time; embeddings, LayerNorm, softmax and pooling
stay fp32. Per-channel scales kept the embeddings at cosine 0.995 to fp32 on minilm-l6, where a
single scale per tensor gave 0.947. torch's ``quantize_dynamic`` (per-channel) was measured too:
no faster, further from fp32 (cosine 0.983), and deprecated in favour of torchao. Whether int8 changes
what a study concludes is measured by ``benchmarks/bench_int8.py``.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from transferlab.errors import InputError

ABS_TOL, MIN_COSINE = 1e-4, 0.99999
MIN_COSINE_INT8 = 0.95  # measured: 0.988 at worst on 400 BBC articles
FORMAT = 1  # bump when the exported graph changes meaning (inputs, outputs, pooling)
OPSET = 17
_PROBE = [
    "A short one.",
    "The central bank raised interest rates again on Thursday, the third rise this year.",
    "Shares fell.",
]


@dataclass
class OnnxEncoder:
    """An onnxruntime session over an exported encoder; ``model`` is the torch module it mirrors."""

    model: Any  # torch.nn.Module
    session: Any  # onnxruntime.InferenceSession
    versions: int  # sum of the parameters' in-place version counters when exported

    def is_current(self, model: Any) -> bool:
        """True while ``model`` is the module exported and none of its weights changed in place."""
        return model is self.model and weight_versions(model) == self.versions

    def run(self, input_ids: np.ndarray, mask: np.ndarray, names: Sequence[str]) -> list[np.ndarray]:
        """Pooled states ``(B, d)`` of the layers ``names`` for one padded batch ``(B, T)``."""
        return self.session.run(list(names), {"input_ids": input_ids, "attention_mask": mask})


def weight_versions(model: Any) -> int:
    """Sum of the parameters' version counters: any in-place update (an optimiser step, a
    ``load_state_dict``) raises it, so a stale graph is detected without hashing the weights."""
    return sum(p._version for p in model.parameters())


def weights_digest(model: Any) -> str:
    """sha256 of the parameter and buffer values in state-dict order (16 hex characters)."""
    h = hashlib.sha256()
    for name, tensor in model.state_dict().items():
        h.update(name.encode())
        h.update(tensor.detach().contiguous().cpu().numpy().tobytes())
    return h.hexdigest()[:16]


def graph_path(digest: str, pooling: str, normalize: bool, precision: str) -> Path:
    """Cache location of the graph for weights ``digest``, this pooling and precision."""
    import onnxruntime
    import torch

    from transferlab.sources.cache import default_cache_dir

    parts = [f"v{FORMAT}", digest, pooling, str(normalize), precision, torch.__version__, onnxruntime.__version__]
    key = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]
    return default_cache_dir() / "onnx" / f"{key}.onnx"


def build_encoder(source: Any) -> OnnxEncoder:
    """Export (or reuse) the graph of ``source.model``, open a session and check it against torch.

    fp32 must match torch within ``ABS_TOL`` / ``MIN_COSINE``; an int8 graph (quantized from a
    checked fp32 one) only within ``MIN_COSINE_INT8``, a sanity bound that a wrong graph fails.
    """
    digest, versions = weights_digest(source.model), weight_versions(source.model)
    fp32 = graph_path(digest, source.pooling, source.normalize, "fp32")
    if not fp32.is_file():
        export(source, fp32)  # checked inside, before it is moved into place
    if source.precision != "int8":
        encoder = OnnxEncoder(source.model, open_session(fp32), versions)
        check_against_torch(source, encoder, ABS_TOL, MIN_COSINE)
        return encoder
    int8 = graph_path(digest, source.pooling, source.normalize, "int8")
    if not int8.is_file():
        quantize(fp32, int8)
    encoder = OnnxEncoder(source.model, open_session(int8), versions)
    check_against_torch(source, encoder, np.inf, MIN_COSINE_INT8)
    return encoder


def export(source: Any, path: Path) -> None:
    """Trace ``source.model`` with its pooling into an ONNX file (written atomically)."""
    import torch

    module = pooled_layers(copy.deepcopy(source.model), source.pooling, source.normalize).eval()
    ids, mask = pad_numpy(source.tokenize(_PROBE), int(source.tokenizer.pad_token_id or 0))
    names = source.layers()
    axes = {"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}}
    axes |= {name: {0: "batch"} for name in names}
    tmp = temporary(path)
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about shape-dependent Python branches
            torch.onnx.export(
                module,
                (torch.from_numpy(ids), torch.from_numpy(mask)),
                str(tmp),
                dynamo=False,  # the TorchScript exporter: the dynamo one needs onnxscript
                input_names=["input_ids", "attention_mask"],
                output_names=names,
                dynamic_axes=axes,
                opset_version=OPSET,
            )
    except Exception as exc:  # an exporter failure is a property of the model: say so on one line
        tmp.unlink(missing_ok=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise InputError(
            f"{source.name}: engine 'onnx' could not export this model ({first}); fix: use engine 'torch'"
        ) from None
    try:
        check_against_torch(source, OnnxEncoder(source.model, open_session(tmp), 0), ABS_TOL, MIN_COSINE)
    except InputError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def quantize(fp32: Path, path: Path) -> None:
    """Dynamic int8 quantization of the Linear layers' weights, one scale per output channel."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = temporary(path)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    root.setLevel(logging.ERROR)  # its advice to pre-process the graph is for static quantization
    try:
        quantize_dynamic(
            str(fp32), str(tmp), weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"]
        )
    finally:  # its module-level logging.warning() calls basicConfig() on a bare root logger: undo that
        root.handlers[:] = handlers
        root.setLevel(level)
    os.replace(tmp, path)


def open_session(path: Path) -> Any:
    """An onnxruntime CPU session with every graph optimisation, on torch's thread count."""
    import onnxruntime as ort
    import torch

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = torch.get_num_threads()  # a study's workers split the cores
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # its warnings about unused initializers are not the user's
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def check_against_torch(source: Any, encoder: OnnxEncoder, abs_tol: float, min_cosine: float) -> None:
    """Refuse the graph unless every layer matches torch fp32 on a padded probe batch."""
    import torch

    ids, mask = pad_numpy(source.tokenize(_PROBE), int(source.tokenizer.pad_token_id or 0))
    module = pooled_layers(source.model, source.pooling, source.normalize)
    with torch.inference_mode():
        expected = [t.numpy() for t in module(torch.from_numpy(ids), torch.from_numpy(mask))]
    found = encoder.run(ids, mask, source.layers())
    for name, a, b in zip(source.layers(), expected, found, strict=True):
        diff = float(np.abs(a - b).max())
        cosine = float(np.min(np.sum(a * b, 1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-30)))
        if diff > abs_tol or cosine < min_cosine:
            raise InputError(
                f"{source.name}: engine 'onnx' ({source.precision}) differs from torch at {name} (max |diff|"
                f" {diff:.2e}, cosine {cosine:.7f}; allowed {abs_tol:g}, {min_cosine}); fix: use engine 'torch'"
            )


def pad_numpy(ids: Sequence[Sequence[int]], pad_id: int) -> tuple[np.ndarray, np.ndarray]:
    """Token id lists padded to the longest: ``input_ids`` and ``attention_mask``, int64 (B, T)."""
    longest = max(len(x) for x in ids)
    input_ids = np.full((len(ids), longest), pad_id, dtype=np.int64)
    mask = np.zeros((len(ids), longest), dtype=np.int64)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = seq
        mask[row, : len(seq)] = 1
    return input_ids, mask


def temporary(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.with_name(f".{path.stem}.{os.getpid()}.tmp.onnx")


def pooled_layers(model: Any, pooling: str, normalize: bool) -> Any:
    """``model`` wrapped to return every hidden state pooled: a tuple of (B, d) tensors.

    Defined inside a function so that importing this module does not import torch.
    """
    import torch

    from transferlab.sources.pooling import pool_tokens

    class PooledLayers(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            hidden = self.model(input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True)
            return tuple(pool_tokens(h, attention_mask, pooling, normalize) for h in hidden.hidden_states)

    return PooledLayers()
