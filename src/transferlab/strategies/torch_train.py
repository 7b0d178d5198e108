"""One training loop for every strategy that trains a backbone (scratch, fine-tuning, LoRA ...).

Speed on CPU comes from doing less: examples are prepared (tokenised) once, batches group
similar lengths so padding is small (shuffled buckets, so batches still vary between epochs),
and prediction runs length-sorted under ``torch.inference_mode``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from transferlab.sources.base import Backbone


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by the training strategies."""

    lr: float = 5e-4
    epochs: int = 10
    batch_size: int = 16
    max_steps: int | None = None
    warmup_ratio: float = 0.1
    weight_decay: float = 0.01


def bucketed_batches(lengths: np.ndarray, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Shuffled batches of similar length: shuffle, sort within windows of 8 batches, shuffle batches."""
    order = rng.permutation(len(lengths))
    window = batch_size * 8
    batches = []
    for start in range(0, len(order), window):
        chunk = order[start : start + window]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    for b in rng.permutation(len(batches)):
        yield batches[b]


def n_steps(n_examples: int, config: TrainConfig) -> int:
    """Optimiser steps: ``epochs`` passes, capped by ``max_steps``."""
    steps = config.epochs * math.ceil(n_examples / config.batch_size)
    return min(steps, config.max_steps) if config.max_steps else steps


def warmup_linear(step: int, total: int, warmup_ratio: float) -> float:
    """Learning-rate factor: linear warm-up, then linear decay to zero."""
    warmup = max(1, int(total * warmup_ratio))
    return (step + 1) / warmup if step < warmup else max(0.0, (total - step) / max(1, total - warmup))


def train_classifier(
    backbone: Backbone, items: list, labels: np.ndarray, head: nn.Module, config: TrainConfig, seed: int
) -> dict[str, float]:
    """Train ``backbone.module`` and ``head`` jointly with AdamW on cross-entropy; returns stats."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    params = [p for p in list(backbone.module.parameters()) + list(head.parameters()) if p.requires_grad]
    optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    total = n_steps(len(items), config)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: warmup_linear(s, total, config.warmup_ratio))
    lengths, targets = backbone.lengths(items), torch.as_tensor(labels, dtype=torch.long)
    backbone.module.train()
    step, seen, loss_sum = 0, 0, 0.0
    while step < total:
        for batch in bucketed_batches(lengths, config.batch_size, rng):
            loss = nn.functional.cross_entropy(head(backbone.forward([items[i] for i in batch])), targets[batch])
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            step, seen, loss_sum = step + 1, seen + len(batch), loss_sum + float(loss.detach())
            if step >= total:
                break
    backbone.module.eval()
    return {"steps": step, "examples_seen": seen, "final_loss": loss_sum / max(step, 1)}


def predict_logits(backbone: Backbone, items: list, head: nn.Module, max_tokens: int = 8192) -> np.ndarray:
    """Logits ``(n, C)`` in input order, computed in length-sorted batches."""
    lengths = backbone.lengths(items)
    order = np.argsort(-lengths, kind="stable")
    out: np.ndarray | None = None
    backbone.module.eval()
    with torch.inference_mode():
        start = 0
        while start < len(order):
            size = max(1, min(64, max_tokens // max(int(lengths[order[start]]), 1)))
            batch = order[start : start + size]
            logits = head(backbone.forward([items[i] for i in batch])).float().numpy()
            out = np.zeros((len(items), logits.shape[1]), dtype=np.float64) if out is None else out
            out[batch] = logits
            start += size
    assert out is not None
    return out


def count_trainable(*modules: nn.Module) -> int:
    """Parameters with ``requires_grad`` across ``modules``."""
    return sum(p.numel() for m in modules for p in m.parameters() if p.requires_grad)
