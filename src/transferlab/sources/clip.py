"""CLIP checkpoints (Radford et al. 2021) through transformers' CLIP classes: ``clip:<folder>``.

An image source with a text tower. ``embed(images)`` gives the projected image embedding
(``visual_projection`` of the vision tower's pooled output), ``embed_text(texts)`` the projected
text embedding of the same space, so ``zero-shot`` classifies images by their nearest class name
and every image strategy (probe, kNN, prototype, fine-tuning of the image tower) works as with
the other image sources. Images are prepared as for ``hf:`` vision models
(:mod:`transferlab.sources.hf_vision`: one pixel scale per call, grey to RGB, then the
checkpoint's own image processor).

No CLIP weights install here: a user supplies a checkpoint folder (``CLIPModel.save_pretrained``
output with its tokenizer and ``preprocessor_config.json``). Weights load from safetensors only,
never with ``trust_remote_code``. The tests build a small randomly initialised CLIP from a config.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError
from transferlab.sources.base import SOURCES
from transferlab.sources.hf_loading import load_config, load_model, locate, revision_files, tried
from transferlab.sources.hf_vision import HFImageSource, pool_hidden

if TYPE_CHECKING:  # torch is imported where a model runs: listing sources must not load it
    import torch
    from torch import nn


def _safetensors_folder(path: str) -> Path:
    folder, _ = locate(path)
    if folder is None:
        raise InputError(
            f"clip:{path}: no folder {path!r} here; clip: reads a local CLIP checkpoint folder"
            " (config.json, *.safetensors, tokenizer, preprocessor_config.json)"
        )
    if not sorted(folder.glob("*.safetensors")):
        raise InputError(f"clip:{path}: no *.safetensors weights in {str(folder)!r}; only safetensors are loaded")
    return folder


def load_clip(path: str, name: str, **params: Any) -> CLIPSource:
    """A CLIP checkpoint folder as a source (see the module docstring)."""
    from transformers import AutoImageProcessor, AutoTokenizer, CLIPModel
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder = _safetensors_folder(path)
    config = load_config(str(folder), folder)
    if getattr(config, "model_type", None) != "clip":
        raise InputError(f"clip:{path}: its config is a {config.model_type!r} model, not CLIP; use hf:{path}")
    try:
        processor = AutoImageProcessor.from_pretrained(str(folder), backend="pil", trust_remote_code=False)
        tokenizer = AutoTokenizer.from_pretrained(str(folder), trust_remote_code=False)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{tried(str(folder), folder, exc)}; a CLIP folder needs its tokenizer and image processor"
        ) from None
    model = load_model(CLIPModel, str(folder), folder, config).eval()
    return CLIPSource(model, processor, tokenizer, name, revision_files(folder), **params)


class CLIPSource(HFImageSource):
    """A CLIP model: image embeddings for the task, text embeddings for class names.

    Parameters
    ----------
    model, processor, tokenizer : the ``CLIPModel``, its image processor and tokenizer.
    name : registry name. weights : files hashed into ``revision`` (or a fixed revision).
    batch_size : images (or texts) per forward pass.
    """

    def __init__(
        self, model: nn.Module, processor: Any, tokenizer: Any, name: str, weights: Any, batch_size: int = 16
    ) -> None:
        from transferlab.sources.clip_tower import ImageTower

        super().__init__(ImageTower(model), processor, name, weights, pooling="cls", batch_size=batch_size)
        self.clip = model.eval()
        self.tokenizer = tokenizer

    @property
    def preprocessing(self) -> str:
        return "clip;scale-unit;gray-to-rgb;processor;image-projection"

    def n_params(self) -> int:
        return sum(p.numel() for p in self.clip.parameters())

    def pooled(self, pixels: torch.Tensor, index: int | None = None, model: Any = None) -> torch.Tensor:
        """The projected image embedding ``(B, p)``, or the CLS token of hidden state ``index``."""
        output = (model or self.model)(pixel_values=pixels, output_hidden_states=index is not None)
        return output.image_embeds if index is None else pool_hidden(output.hidden_states[index], "cls")

    def embed_text(self, texts: Sequence[str]) -> np.ndarray:
        """Projected text embeddings ``(n, p)`` in the image embeddings' space (float32)."""
        import torch

        limit = int(self.clip.config.text_config.max_position_embeddings)
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = [str(t) for t in texts[start : start + self.batch_size]]
                tokens = self.tokenizer(batch, padding=True, truncation=True, max_length=limit, return_tensors="pt")
                hidden = self.clip.text_model(input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"])
                out.append(self.clip.text_projection(hidden.pooler_output).float().numpy())  # (B, p)
        return np.concatenate(out).astype(np.float32, copy=False)

    def random_twin(self, seed: int = 0) -> CLIPSource:
        """The same CLIP architecture, processor and tokenizer with weights from its own initialiser."""
        import torch
        from transformers import CLIPModel

        torch.manual_seed(seed)
        model = CLIPModel(self.clip.config).eval()
        revision = f"random-{self.revision}-{seed}"
        return CLIPSource(model, self.processor, self.tokenizer, f"{self.name}-random", revision, self.batch_size)


@SOURCES.register_prefix("clip")
def clip_model(path: str, **params: Any) -> CLIPSource:
    """A user's CLIP checkpoint folder, ``clip:<folder>``: image embeddings plus a text tower."""
    return load_clip(path, f"clip:{path}", **params)
