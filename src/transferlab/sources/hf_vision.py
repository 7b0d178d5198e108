"""Image models from transformers (ViT, ConvNeXt, DINOv2, Swin, ResNet, ...) as sources: ``hf:<folder>``.

``hf:<folder>`` becomes this source when the folder's config is a vision one (its model type is
among transformers' image models), so a user's own vision checkpoint works like a text one:
frozen embeddings, layer choice, fine-tuning and a from-scratch twin. It loads as safely as the
text models (:mod:`transferlab.sources.hf_loading`: safetensors or ``weights_only``, no remote code).

Inputs are the arrays every image source takes, ``(n, H, W)`` or ``(n, H, W, 3)``. They are brought
to [0, 1] by the EfficientNets' rule (:func:`~transferlab.sources.vision.pixel_range`, one scale per
call), grey is repeated to RGB, and then the checkpoint's own image processor resizes and
normalises them as the model was trained (its PIL backend, which needs no torchvision; the
processor rounds pixels to 8 bits to resize them with Pillow).

Pooling (``pooling="auto"``): a model whose pooler is a learned dense layer over the CLS token
(ViT, DeiT) gives the CLS token itself, because that layer is missing or untrained in many
self-supervised checkpoints; otherwise its ``pooler_output`` (global average pooling and norm for
ConvNeXt, ResNet, Swin; the normed CLS token for DINOv2); with no pooler, the mean over tokens or
positions. ``"cls"``, ``"mean"`` and ``"pooler"`` force one. Inner layers (``layer-i``, the
model's ``hidden_states``) give the CLS token when the final pooling is ``cls``, else the mean.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.sources.base import Backbone, Source, file_digest
from transferlab.sources.hf_loading import load_config, load_model, locate, revision_files, tried
from transferlab.sources.vision import as_images, pixel_range, scale_to_unit

if TYPE_CHECKING:  # torch is imported where a model runs: listing sources must not load it
    import torch

POOLINGS = ("auto", "cls", "mean", "pooler")


def is_vision_config(config: Any) -> bool:
    """True when transformers lists the config's model type among its image models."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_IMAGE_MAPPING_NAMES

    return getattr(config, "model_type", None) in MODEL_FOR_IMAGE_MAPPING_NAMES


def load_hf_vision(path: str, name: str, **params: Any) -> HFImageSource:
    """A transformers image model and its image processor from a folder or a hub id."""
    from transformers import AutoImageProcessor, AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder, target = locate(path)
    config = load_config(target, folder)
    try:
        processor = AutoImageProcessor.from_pretrained(target, backend="pil", trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{tried(target, folder, exc)}; an image model needs its preprocessor_config.json"
            " (save it with image_processor.save_pretrained(folder))"
        ) from None
    model = load_model(AutoModel, target, folder, config)
    weights = revision_files(folder) if folder is not None else f"hub-{path}-{model.config._commit_hash}"
    return HFImageSource(model, processor, name, weights, **params)


def resolve_pooling(model: torch.nn.Module, output: Any, pooling: str) -> str:
    """The pooling ``"auto"`` stands for with this model (see the module docstring)."""
    import torch

    if pooling != "auto":
        return pooling
    pooler = getattr(model, "pooler", None)
    if isinstance(pooler, torch.nn.Module) and any(isinstance(m, torch.nn.Linear) for m in pooler.modules()):
        return "cls"
    return "pooler" if getattr(output, "pooler_output", None) is not None else "mean"


def pool_hidden(hidden: torch.Tensor, mode: str) -> torch.Tensor:
    """Token states ``(B, T, d)`` or feature maps ``(B, C, h, w)`` -> ``(B, d)``."""
    if hidden.ndim == 4:
        return hidden.mean((2, 3))
    return hidden[:, 0] if mode == "cls" else hidden.mean(1)


class HFImageSource(Source):
    """A transformers image model as a feature extractor and a trainable backbone.

    Parameters
    ----------
    model, processor : the ``AutoModel`` (no task head) and its image processor.
    name : registry name. weights : files hashed into ``revision`` (or a fixed revision).
    pooling : "auto", "cls", "mean" or "pooler" (see the module docstring).
    batch_size : images per forward pass.
    """

    modality = "image"
    trainable = True

    def __init__(
        self,
        model: torch.nn.Module,
        processor: Any,
        name: str,
        weights: Sequence[Path] | str,
        pooling: str = "auto",
        batch_size: int = 16,
    ) -> None:
        if pooling not in POOLINGS:
            raise bad_parameter(name, "pooling", pooling, f"one of {POOLINGS}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise bad_parameter(name, "batch_size", batch_size, "a positive integer")
        self.model = model.eval()
        self.processor = processor
        self.name = name
        self._weights = weights
        self._revision: str | None = weights if isinstance(weights, str) else None
        self.pooling = pooling
        self.batch_size = batch_size
        self._shape: tuple[int, int] | None = None  # (embedding dim, number of hidden states), probed once

    @property
    def revision(self) -> str:
        if self._revision is None:
            self._revision = file_digest([Path(p) for p in self._weights])
        return self._revision

    @property
    def preprocessing(self) -> str:
        return f"hf-image;scale-unit;gray-to-rgb;processor;pool={self.pooling}"

    @property
    def dim(self) -> int:
        return self._probe()[0]

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def layers(self) -> list[str]:
        return [f"layer-{i}" for i in range(self._probe()[1])] + ["last"]

    def preprocess(self, inputs: Sequence[Any] | np.ndarray) -> torch.Tensor:
        """Images -> the model's ``pixel_values`` ``(n, 3, S, S)``, by its own processor."""
        import torch

        images = as_images(inputs)
        value_range = pixel_range(images)  # one scale for the whole call, applied batch by batch
        batches = [
            self._processed(scale_to_unit(images[start : start + 256], value_range))
            for start in range(0, len(images), 256)
        ]
        return torch.cat(batches)

    def _processed(self, images: np.ndarray) -> torch.Tensor:
        rgb = np.repeat(images, 3, axis=-1) if images.shape[-1] == 1 else images  # (B, H, W, 3) in [0, 1]
        out = self.processor(images=list(rgb), do_rescale=False, input_data_format="channels_last", return_tensors="pt")
        return out["pixel_values"].float()

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        import torch

        index = self._layer_index(layer)
        pixels = self.preprocess(inputs)
        out = []
        with torch.inference_mode():
            for start in range(0, len(pixels), self.batch_size):
                out.append(self.pooled(pixels[start : start + self.batch_size], index).float().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)

    def pooled(self, pixels: torch.Tensor, index: int | None = None, model: Any = None) -> torch.Tensor:
        """Features of ``pixel_values`` ``(B, 3, S, S)``: the pooled output, or hidden state ``index``.

        ``model`` runs instead of the source's own (a fine-tuned copy, or its LoRA wrapper).
        """
        output = (model or self.model)(pixel_values=pixels, output_hidden_states=index is not None)
        mode = resolve_pooling(self.model, output, self.pooling)
        if index is not None:
            return pool_hidden(output.hidden_states[index], mode)
        if mode == "pooler":
            return output.pooler_output.flatten(1)
        return pool_hidden(output.last_hidden_state, mode)

    def _layer_index(self, layer: str | None) -> int | None:
        names = self.layers()
        if layer is None or layer == "last":
            return None
        if layer not in names:
            raise bad_parameter(self.name, "layer", layer, f"one of {names[0]}, ..., {names[-1]}")
        return names.index(layer)

    def _probe(self) -> tuple[int, int]:
        import torch

        if self._shape is None:
            pixels = self.preprocess(np.zeros((1, 32, 32, 3), dtype=np.float32))
            with torch.inference_mode():
                output = self.model(pixel_values=pixels, output_hidden_states=True)
                dim = self.pooled(pixels).shape[1]
            self._shape = (int(dim), len(output.hidden_states))
        return self._shape

    def backbone(self) -> HFImageBackbone:
        """The trainable model (shares weights with this source: training changes both)."""
        return HFImageBackbone(self)

    def random_twin(self, seed: int = 0) -> HFImageSource:
        """Same architecture, processor and pooling, weights from the model's own initialiser."""
        import torch
        from transformers import AutoModel

        torch.manual_seed(seed)
        model = AutoModel.from_config(self.model.config)
        revision = f"random-{self.revision}-{seed}"
        return HFImageSource(model, self.processor, f"{self.name}-random", revision, self.pooling, self.batch_size)


class HFImageBackbone(Backbone):
    """Images are run through the processor once in ``prepare``; ``forward`` pools the model's output."""

    def __init__(self, source: HFImageSource) -> None:
        self.source = source
        self.module = source.model
        self.dim = source.dim

    def prepare(self, inputs: Sequence[Any] | np.ndarray) -> list[Any]:
        return list(self.source.preprocess(inputs))  # one (3, S, S) tensor per image

    def forward(self, items: list[Any]) -> torch.Tensor:
        import torch

        return self.source.pooled(torch.stack(items), model=self.module)  # (B, dim)
