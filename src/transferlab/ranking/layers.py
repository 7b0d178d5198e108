"""Every layer of a source in one forward pass, stored in the embedding cache.

``Source.embed(inputs, layer)`` returns one layer per call, so ranking the 7 layers of minilm-l6
would run the encoder 7 times and the 18 stages of an EfficientNet-Lite about 9 full passes.
Here one pass collects them all. The arrays enter the cache through its public ``get`` (a
:class:`Precomputed` view carries the source's name, revision and preprocessing, so the keys are
the ones ``EmbeddingCache.get(source, task, layer)`` reads afterwards). The passes mirror the
sources' own ``embed`` (same tokenisation, batches, pooling and image preprocessing); a test
checks that both give the same numbers.

Only the two builtin model families have a one-pass path (dispatched on their class: it reads
their internals). Any other source is embedded layer by layer, which is correct, only slower.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from transferlab.data.task import TaskData
from transferlab.sources.base import Source
from transferlab.sources.cache import EmbeddingCache, embedding_key
from transferlab.sources.text import TorchTextSource
from transferlab.sources.vision import TorchImageSource, as_images, inference_copy, scale_to_unit, to_model_input


class SourceView(Source):
    """A stand-in for ``source`` under its name, revision and preprocessing (so, its cache keys)."""

    def __init__(self, source: Source) -> None:
        self.source = source
        self.name = source.name
        self.modality = source.modality

    @property
    def revision(self) -> str:
        return self.source.revision

    @property
    def preprocessing(self) -> str:
        return self.source.preprocessing

    @property
    def dim(self) -> int:
        return self.source.dim

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        return self.source.embed(inputs, layer)


class Precomputed(SourceView):
    """A view of ``source`` whose ``embed`` returns arrays computed elsewhere, one per layer."""

    def __init__(self, source: Source, arrays: dict[str | None, np.ndarray]) -> None:
        super().__init__(source)
        self.arrays = arrays

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        return self.arrays[layer]


def cache_key_layer(source: Source, layer: str) -> str | None:
    """The ``layer`` argument to give ``embed`` / the cache: ``None`` for the default (last) layer.

    The last layer by name (``layer-6``) and by default (``None``) are the same embedding; using
    ``None`` for both means they share one cache entry.
    """
    return None if layer in ("last", source.layers()[-1]) else layer


def prefill_layers(source: Source, task: TaskData, layers: list[str], cache: EmbeddingCache) -> float:
    """Put every layer of ``layers`` missing from ``cache`` there in one pass; returns seconds spent.

    Does nothing (0 seconds) when fewer than two layers are missing or the source has no
    one-pass path.
    """
    import time

    wanted = [cache_key_layer(source, layer) for layer in layers]
    missing = [w for w in wanted if not cache.path(embedding_key(source, w, task.fingerprint)).is_file()]
    one_pass = _ONE_PASS.get(type(source))
    if one_pass is None or len(missing) < 2:
        return 0.0
    start = time.perf_counter()
    all_layers = one_pass(source, task.inputs)  # {layer name: (n, d)}
    arrays = {w: all_layers[source.layers()[-1] if w is None else w] for w in missing}
    view = Precomputed(source, arrays)
    for w in missing:
        cache.get(view, task, w)
    return time.perf_counter() - start


def text_all_layers(source: TorchTextSource, inputs: Sequence[Any]) -> dict[str, np.ndarray]:
    """Pooled hidden states of every layer of a text encoder, on its own engine: {layer: (n, d)}."""
    names = source.layers()
    return dict(zip(names, source.embed_layers(inputs, names), strict=True))


def image_all_layers(source: TorchImageSource, inputs: Sequence[Any] | np.ndarray) -> dict[str, np.ndarray]:
    """Globally pooled feature maps after every stage of an EfficientNet-Lite: {layer: (n, C)}."""
    fast = inference_copy(source.model)
    images = scale_to_unit(as_images(inputs))
    pooled: list[list[np.ndarray]] = [[] for _ in source.layers()]
    with torch.inference_mode():
        for start in range(0, len(images), source.batch_size):
            x = to_model_input(images[start : start + source.batch_size], source.image_size)
            for index, stage in enumerate(_stages(fast, x)):
                pooled[index].append(stage.mean((2, 3)).float().numpy())  # (B, C)
    return {name: np.concatenate(p).astype(np.float32) for name, p in zip(source.layers(), pooled, strict=True)}


def _stages(model: torch.nn.Module, x: torch.Tensor) -> Any:
    """Feature maps after the stem, each block and the head (as ``vision.feature_map`` computes them)."""
    x = model._swish(model._bn0(model._conv_stem(x)))  # (B, 32, S/2, S/2)
    yield x
    for block in model._blocks:
        x = block(x, drop_connect_rate=None)
        yield x
    yield model._swish(model._bn1(model._conv_head(x)))  # (B, 1280, h, w)


_ONE_PASS = {TorchTextSource: text_all_layers, TorchImageSource: image_all_layers}
