"""Where the blocks of a backbone are: for top-k fine-tuning and layer-wise learning rates.

A backbone is read as ``stem -> blocks -> top``: the blocks are its largest ``nn.ModuleList``
(BERT's ``encoder.layer``, DistilBERT's ``transformer.layer``, EfficientNet's ``_blocks``),
the stem is every parameter registered before them (embeddings, the stem convolution) and the
top every parameter after them (a pooler, EfficientNet's head convolution). This covers the
bundled sources and most Hugging Face encoders without a table of architectures.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from transferlab.errors import InputError
from transferlab.sources.base import Backbone


def block_list(module: nn.Module) -> nn.ModuleList:
    """The backbone's stack of blocks: its longest ``nn.ModuleList``."""
    lists = [m for m in module.modules() if isinstance(m, nn.ModuleList) and len(m) > 0]
    if not lists:
        raise InputError(f"cannot find the blocks of {type(module).__name__}: it has no nn.ModuleList of layers")
    return max(lists, key=len)


def layer_groups(module: nn.Module) -> list[list[nn.Parameter]]:
    """Parameters grouped bottom to top: ``[stem, block 0, ..., block L-1, top]``."""
    blocks = block_list(module)
    block_of = {id(p): i for i, block in enumerate(blocks) for p in block.parameters()}
    stem: list[nn.Parameter] = []
    top: list[nn.Parameter] = []
    per_block: list[list[nn.Parameter]] = [[] for _ in blocks]
    passed = False
    for p in module.parameters():
        if id(p) in block_of:
            per_block[block_of[id(p)]].append(p)
            passed = True
        else:
            (top if passed else stem).append(p)
    return [stem, *per_block, top]


def train_top_blocks(module: nn.Module, k: int) -> None:
    """Freeze everything below the top ``k`` blocks (the stem and the lower blocks)."""
    groups = layer_groups(module)
    n_blocks = len(groups) - 2
    for g, params in enumerate(groups):
        keep = g > n_blocks - k  # block index g - 1 >= n_blocks - k, and the top group
        for p in params:
            p.requires_grad_(keep)


def decayed_param_groups(module: nn.Module, lr: float, decay: float) -> list[dict[str, Any]]:
    """AdamW groups with layer-wise learning-rate decay (Howard & Ruder 2018; Clark et al. 2020).

    The top block and the top group get ``lr``; each block below gets ``decay`` times the one
    above; the stem (embeddings) gets ``lr * decay**L``. ``decay = 1`` is one learning rate.
    """
    groups = layer_groups(module)
    n_blocks = len(groups) - 2
    out = []
    for g, params in enumerate(groups):
        params = [p for p in params if p.requires_grad]
        if params:
            out.append({"params": params, "lr": lr * decay ** max(0, n_blocks - g)})
    return out


def freeze_unused(backbone: Backbone, items: list) -> None:
    """Stop training parameters the pooled features do not depend on.

    A dry forward/backward pass on two examples finds them (BERT's pooler when the features are
    mean-pooled; EfficientNet's ImageNet classifier): without this they would count as trained
    and be carried by the optimiser for nothing.
    """
    module = backbone.module
    was_training = module.training
    module.eval()  # no dropout, no BatchNorm statistics update during the probe
    params = [p for p in module.parameters() if p.requires_grad]
    for p in params:
        p.grad = None
    backbone.forward(items[:2]).float().sum().backward()
    for p in params:
        if p.grad is None:
            p.requires_grad_(False)
        p.grad = None
    module.train(was_training)


def weights_digest(module: nn.Module) -> str:
    """sha256 of a module's state (16 hex characters): the revision of trained weights."""
    import hashlib

    h = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        h.update(name.encode())
        if isinstance(tensor, torch.Tensor):
            h.update(tensor.detach().cpu().contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]
