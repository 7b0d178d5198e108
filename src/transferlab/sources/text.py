"""Transformer text encoders run with PyTorch: mean-pooled hidden states.

Embedding is the hot loop of every study, so it avoids the usual waste: texts are tokenised
once without padding, sorted by length, grouped into batches under a token budget and padded
only to the longest text of each batch (dynamic padding), all under ``torch.inference_mode``.
On 256-token documents this reaches a larger share of the machine's matmul rate than
sentence-transformers' ``encode`` (see ``benchmarks/bench_embed.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from transferlab.errors import bad_parameter
from transferlab.sources.base import Backbone, Source

PRECISIONS = ("fp32", "bf16")


def file_digest(paths: Sequence[Path]) -> str:
    """sha256 over the bytes of ``paths`` (16 hex characters): a source's revision."""
    h = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 22), b""):
                h.update(block)
    return h.hexdigest()[:16]


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
    max_length : tokens kept per text. precision : "fp32", or "bf16" autocast on CPUs with
        native bf16 (cosine to fp32 embeddings >= 0.9999 on minilm-l6, see the benchmark; on
        CPUs without avx512_bf16 / AMX it is several times slower than fp32).
    max_tokens : padded tokens per batch (8 texts of 256 tokens). Larger batches do not run the
        matmuls faster on CPU, and once the largest activation (tokens x 1536 floats for MiniLM's
        FFN) passes glibc's 32 MB mmap ceiling, every batch maps fresh pages: at 8192 tokens that
        was ~190k page faults per 32 documents and about 15% more CPU time than at 2048.
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
    ) -> None:
        if precision not in PRECISIONS:
            raise bad_parameter(name, "precision", precision, f"one of {PRECISIONS}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self._weights = weights
        self._revision: str | None = weights if isinstance(weights, str) else None
        self.max_length = max_length
        self.precision = precision
        self.max_tokens = max_tokens

    @property
    def revision(self) -> str:
        if self._revision is None:
            self._revision = file_digest([Path(p) for p in self._weights])
        return self._revision

    @property
    def preprocessing(self) -> str:
        return f"mean-pool;max_length={self.max_length};{self.precision}"

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
        ids = self.tokenize([str(t) for t in inputs])
        out = np.zeros((len(ids), self.dim), dtype=np.float32)
        lengths = np.array([len(x) for x in ids])
        pad = int(self.tokenizer.pad_token_id or 0)
        with torch.inference_mode(), self._autocast():
            for batch in length_sorted_batches(lengths, self.max_tokens, 64):
                input_ids, mask = pad_batch([ids[i] for i in batch], pad)
                out[batch] = self._pooled(input_ids, mask, index).float().numpy()
        return out

    def _pooled(self, input_ids: torch.Tensor, mask: torch.Tensor, index: int | None) -> torch.Tensor:
        want_all = index is not None
        # A batch with no padding (most of one when documents are truncated to max_length) needs
        # no attention mask: without one the attention kernel skips building and adding it.
        attention = None if bool(mask.all()) else mask
        output = self.model(input_ids=input_ids, attention_mask=attention, output_hidden_states=want_all)
        hidden = output.hidden_states[index] if want_all else output.last_hidden_state  # (B, T, d)
        return mean_pool(hidden, mask)

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
        return TorchTextSource(
            model, self.tokenizer, f"{self.name}-random", f"random-{self.revision}-{seed}", self.max_length
        )


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
        return mean_pool(hidden, mask)
