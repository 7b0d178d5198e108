"""Transformer text encoders: pooled hidden states, run by PyTorch or, for frozen embedding, by
onnxruntime on the same weights (``engine``, :mod:`transferlab.sources.onnx_engine`).

Embedding is the hot loop of every study, so it avoids the usual waste: texts are tokenised
once without padding, sorted by length, grouped into batches under a token budget and padded
only to the longest text of each batch (dynamic padding), all under ``torch.inference_mode``.
On 256-token documents this reaches a larger share of the machine's matmul rate than
sentence-transformers' ``encode`` (see ``benchmarks/bench_embed.py``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from transferlab.errors import bad_parameter
from transferlab.sources.base import Backbone, Source, file_digest  # file_digest: kept importable here
from transferlab.sources.pooling import POOLINGS, pool_tokens
from transferlab.sources.precision import PRECISIONS, resolve_engine

__all__ = [
    "PRECISIONS",
    "TextBackbone",
    "TorchTextSource",
    "file_digest",
    "length_sorted_batches",
    "mean_pool",
    "pad_batch",
]


def length_sorted_batches(lengths: np.ndarray, max_tokens: int, max_batch: int) -> Iterator[np.ndarray]:
    """Indices grouped into batches of similar length, each under ``max_tokens`` padded tokens.

    Sorting by length means each batch pads to nearly its own length; the token budget keeps
    short-text batches large and long-text batches small, so every matmul stays big enough.
    """
    order = np.argsort(-lengths, kind="stable")
    start = 0
    while start < len(order):
        longest = int(lengths[order[start]])
        size = max(1, min(max_batch, max_tokens // max(longest, 1)))
        yield order[start : start + size]
        start += size


class TorchTextSource(Source):
    """A Hugging Face encoder (``BertModel``-like) with mean pooling over the attention mask.

    Parameters
    ----------
    model, tokenizer : the encoder and its (fast) tokenizer.
    name : registry name. weights : files hashed into ``revision`` (or a fixed revision).
    max_length : tokens kept per text. precision : "fp32"; "int8" (dynamic quantization, on the
        onnx engine); or "bf16" autocast, refused on CPUs without native bf16 (emulated, it is
        several times slower than fp32). See :mod:`transferlab.sources.precision`.
    engine : "torch" or "onnx" (:mod:`transferlab.sources.onnx_engine`: the same weights run by
        onnxruntime, checked equal to torch); None: torch for fp32 and bf16, onnx for int8.
        Frozen embedding only: ``backbone()`` (training) always runs the torch module.
    max_tokens : padded tokens per batch (8 texts of 256 tokens). Larger batches do not run the
        matmuls faster on CPU, and once the largest activation (tokens x 1536 floats for MiniLM's
        FFN) passes glibc's 32 MB mmap ceiling, every batch maps fresh pages: at 8192 tokens that
        was ~190k page faults per 32 documents and about 15% more CPU time than at 2048.
    pooling, normalize : "mean", "cls" or "max" over tokens, then unit length or not
        (:func:`~transferlab.sources.pooling.pool_tokens`; a sentence-transformers folder sets them).
    """

    modality = "text"
    trainable = True

    def __init__(
        self,
        model: torch.nn.Module,
        tokenizer: Any,
        name: str,
        weights: Sequence[Path] | str,
        max_length: int = 256,
        precision: str = "fp32",
        max_tokens: int = 2048,
        pooling: str = "mean",
        normalize: bool = False,
        engine: str | None = None,
    ) -> None:
        self.engine = resolve_engine(name, precision, engine)
        if pooling not in POOLINGS:
            raise bad_parameter(name, "pooling", pooling, f"one of {POOLINGS}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self._weights = weights
        self._revision: str | None = weights if isinstance(weights, str) else None
        self.max_length = max_length
        self.precision = precision
        self.max_tokens = max_tokens
        self.pooling = pooling
        self.normalize = bool(normalize)
        self._onnx: Any = None  # the onnxruntime encoder, built on the first embed

    @property
    def revision(self) -> str:
        if self._revision is None:
            self._revision = file_digest([Path(p) for p in self._weights])
        return self._revision

    @property
    def preprocessing(self) -> str:
        pooled = f"{self.pooling}-pool" + (";normalize" if self.normalize else "")
        engine = ";onnx" if self.engine == "onnx" else ""  # torch keeps the key it always had
        return f"{pooled};max_length={self.max_length};{self.precision}{engine}"

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def layers(self) -> list[str]:
        return [f"layer-{i}" for i in range(int(self.model.config.num_hidden_layers) + 1)]

    def tokenize(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids per text, truncated to ``max_length``, unpadded (done once per text)."""
        encoded = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        return encoded["input_ids"]

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        index = self._layer_index(layer)
        if self.engine == "onnx" or index is not None:  # an inner layer: the same pass as ranking's
            return self.embed_layers(inputs, [self.layers()[-1 if index is None else index]])[0]
        ids = self.tokenize([str(t) for t in inputs])
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        lengths = np.array([len(x) for x in ids])
        pad = int(self.tokenizer.pad_token_id or 0)
        with torch.inference_mode(), self._autocast():
            for batch in length_sorted_batches(lengths, self.max_tokens, 64):
                input_ids, mask = pad_batch([ids[i] for i in batch], pad)
                out[batch] = self._pooled(input_ids, mask, index).float().numpy()
        return out

    def embed_layers(self, inputs: Sequence[Any] | np.ndarray, layers: Sequence[str]) -> list[np.ndarray]:
        """Pooled states of several layers in one pass: one float32 ``(n, d)`` array per name."""
        last = self.layers()[-1]
        layers = [last if self._layer_index(layer) is None else layer for layer in layers]  # "last" too
        ids = self.tokenize([str(t) for t in inputs])
        out = np.zeros((len(layers), len(ids), self.dim), dtype=np.float32)  # (L, n, d)
        batches = length_sorted_batches(np.array([len(x) for x in ids]), self.max_tokens, 64)
        run = self._onnx_layers if self.engine == "onnx" else self._torch_layers
        for batch in batches:
            out[:, batch] = run([ids[i] for i in batch], layers)
        return list(out)

    def _onnx_layers(self, ids: list[list[int]], layers: list[str]) -> list[np.ndarray]:
        from transferlab.sources.onnx_engine import pad_numpy

        return self.onnx_encoder().run(*pad_numpy(ids, int(self.tokenizer.pad_token_id or 0)), layers)

    def _torch_layers(self, ids: list[list[int]], layers: list[str]) -> list[np.ndarray]:
        input_ids, mask = pad_batch(ids, int(self.tokenizer.pad_token_id or 0))
        with torch.inference_mode(), self._autocast():
            hidden = self.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=True).hidden_states
            names = self.layers()
            return [
                pool_tokens(hidden[names.index(x)], mask, self.pooling, self.normalize).float().numpy() for x in layers
            ]

    def onnx_encoder(self) -> Any:
        """The onnxruntime encoder of the current weights (exported or re-exported when needed)."""
        from transferlab.sources.onnx_engine import build_encoder

        if self._onnx is None or not self._onnx.is_current(self.model):
            self._onnx = build_encoder(self)
        return self._onnx

    def _pooled(self, input_ids: torch.Tensor, mask: torch.Tensor, index: int | None) -> torch.Tensor:
        want_all = index is not None
        # A batch with no padding (most of one when documents are truncated to max_length) needs
        # no attention mask: without one the attention kernel skips building and adding it.
        attention = None if bool(mask.all()) else mask
        output = self.model(input_ids=input_ids, attention_mask=attention, output_hidden_states=want_all)
        hidden = output.hidden_states[index] if want_all else output.last_hidden_state  # (B, T, d)
        return pool_tokens(hidden, mask, self.pooling, self.normalize)

    def _layer_index(self, layer: str | None) -> int | None:
        names = self.layers()
        if layer is None or layer in ("last", names[-1]):
            return None
        if layer not in names:
            raise bad_parameter(self.name, "layer", layer, f"one of {names} or 'last'")
        return names.index(layer)

    def _autocast(self) -> Any:
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.precision == "bf16")

    def backbone(self, max_length: int | None = None) -> TextBackbone:
        """The trainable encoder (shares weights with this source: training changes both)."""
        return TextBackbone(self, max_length or self.max_length)

    def random_twin(self, seed: int = 0) -> TorchTextSource:
        """Same architecture and tokenizer, weights drawn from the model's own initialiser."""
        from transformers import AutoModel

        torch.manual_seed(seed)
        model = AutoModel.from_config(self.model.config)
        revision, pooled = f"random-{self.revision}-{seed}", {"pooling": self.pooling, "normalize": self.normalize}
        return TorchTextSource(model, self.tokenizer, f"{self.name}-random", revision, self.max_length, **pooled)


def pad_batch(ids: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Pad token id lists to the longest one: ``input_ids`` and ``attention_mask``, (B, T)."""
    longest = max(len(x) for x in ids)
    input_ids = torch.full((len(ids), longest), pad_id, dtype=torch.long)
    mask = torch.zeros((len(ids), longest), dtype=torch.long)
    for row, seq in enumerate(ids):
        input_ids[row, : len(seq)] = torch.tensor(seq, dtype=torch.long)
        mask[row, : len(seq)] = 1
    return input_ids, mask


def mean_pool(hidden: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Average of token states over the attention mask: (B, T, d) -> (B, d)."""
    weights = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)


class TextBackbone(Backbone):
    """Token ids in, mean-pooled hidden states out; texts are tokenised once in ``prepare``."""

    def __init__(self, source: TorchTextSource, max_length: int) -> None:
        self.source = source
        self.module = source.model
        self.dim = source.dim
        self.max_length = max_length
        self.pad_id = int(source.tokenizer.pad_token_id or 0)

    def prepare(self, inputs: Sequence[Any] | np.ndarray) -> list[Any]:
        encoded = self.source.tokenizer([str(t) for t in inputs], truncation=True, max_length=self.max_length)
        return encoded["input_ids"]

    def lengths(self, items: list[Any]) -> np.ndarray:
        return np.array([len(x) for x in items], dtype=np.int64)

    def forward(self, items: list[Any]) -> torch.Tensor:
        input_ids, mask = pad_batch(items, self.pad_id)
        hidden = self.module(input_ids=input_ids, attention_mask=mask).last_hidden_state  # (B, T, d)
        return pool_tokens(hidden, mask, self.source.pooling, self.source.normalize)
