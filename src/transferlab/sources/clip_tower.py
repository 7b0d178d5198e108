"""CLIP's image tower as one module (imported when a CLIP source is built, so that registering the
``clip:`` prefix does not load torch)."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn


class ImageTower(nn.Module):
    """CLIP's vision transformer and its projection: pixels ``(B, 3, S, S)`` -> ``image_embeds`` ``(B, p)``."""

    def __init__(self, clip: nn.Module) -> None:
        super().__init__()
        self.vision_model = clip.vision_model
        self.visual_projection = clip.visual_projection
        self.config = clip.config

    def forward(self, pixel_values: torch.Tensor, output_hidden_states: bool = False) -> SimpleNamespace:
        out = self.vision_model(pixel_values=pixel_values, output_hidden_states=output_hidden_states)
        embeds = self.visual_projection(out.pooler_output)  # (B, p)
        return SimpleNamespace(image_embeds=embeds, hidden_states=out.hidden_states)
