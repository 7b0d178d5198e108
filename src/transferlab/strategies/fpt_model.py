"""The torch parts of ``fpt`` (:mod:`transferlab.strategies.fpt`): the patch transformer built on a
text encoder's blocks, and its trainable view. Imported when ``fpt`` fits, so that registering
the strategy does not load torch."""

from __future__ import annotations

import copy
import functools
from typing import Any

import numpy as np
import torch
from torch import nn

from transferlab.sources.base import Backbone


def is_trained_in_fpt(name: str) -> bool:
    """Parameters Lu et al. train: LayerNorms and positional embeddings (the rest of the encoder is frozen)."""
    return "LayerNorm" in name or name.startswith("embeddings.position_embeddings")


@functools.lru_cache(maxsize=2)
def pretrained_encoder(name: str) -> nn.Module:
    """The torch ``BertModel`` of a bundled text encoder (loaded once per process; copy before training)."""
    from transferlab.sources import create_source

    return create_source(name).model.eval()


def build_encoder(name: str, pretrained: bool, seed: int) -> nn.Module:
    """A fresh copy of ``name``'s blocks: its pretrained weights, or the same architecture at random."""
    from transformers import AutoModel

    template = pretrained_encoder(name)
    if pretrained:
        return copy.deepcopy(template)
    torch.manual_seed(seed)
    return AutoModel.from_config(template.config)


class PatchTransformer(nn.Module):
    """Input projection, then the encoder on ``inputs_embeds``, mean-pooled: ``(B, T, k)`` -> ``(B, hidden)``."""

    def __init__(self, encoder: nn.Module, patch_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.project = nn.Linear(patch_dim, int(encoder.config.hidden_size))
        for name, param in self.encoder.named_parameters():
            param.requires_grad = is_trained_in_fpt(name)

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(inputs_embeds=self.project(patches)).last_hidden_state  # (B, T, hidden)
        return hidden.mean(dim=1)


class PatchBackbone(Backbone):
    """The trainable view :func:`~transferlab.strategies.torch_train.train_classifier` runs."""

    def __init__(self, module: PatchTransformer) -> None:
        self.module = module
        self.dim = int(module.project.out_features)

    def prepare(self, inputs: Any) -> list[Any]:
        return list(torch.from_numpy(np.asarray(inputs)))  # one (T, k) tensor per image

    def forward(self, items: list[Any]) -> torch.Tensor:
        return self.module(torch.stack(items))  # (B, hidden)
