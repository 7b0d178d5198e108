"""One training loop for every strategy that trains a backbone (scratch, fine-tuning, LoRA ...).

Speed on CPU comes from doing less: examples are prepared (tokenised) once, batches group
similar lengths so padding is small (shuffled buckets, so batches still vary between epochs),
and prediction runs length-sorted under ``torch.inference_mode``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

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
    patience: int = 2  # epochs without a lower validation loss before early stopping
    batchnorm_eval: bool = False  # keep BatchNorm statistics frozen while training (see train_mode)


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


Penalty = Callable[[torch.Tensor], torch.Tensor]


def train_classifier(
    backbone: Backbone,
    items: list,
    labels: np.ndarray,
    head: nn.Module,
    config: TrainConfig,
    seed: int,
    penalty: Penalty | None = None,
    validation: tuple[list, np.ndarray] | None = None,
    param_groups: list[dict[str, Any]] | None = None,
) -> dict[str, float]:
    """Train ``backbone.module`` and ``head`` jointly with AdamW on cross-entropy; returns stats.

    Parameters
    ----------
    penalty : called with each batch's pooled features ``(B, dim)``; its value is added to the
        loss (L2-SP ignores the features, BSS uses them).
    validation : held-out ``(items, labels)``; when given, the validation loss is measured after
        every epoch (and at the last step), training stops after ``config.patience`` epochs
        without improvement, and the best weights are restored.
    param_groups : AdamW parameter groups (e.g. layer-wise learning rates); default: every
        parameter with ``requires_grad`` at ``config.lr``.
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    groups = param_groups if param_groups is not None else [{"params": trainable(backbone.module, head)}]
    # fused: one kernel over all parameters; on CPU ~15x faster than the per-tensor loop for 22M parameters
    optimiser = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    total = n_steps(len(items), config)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: warmup_linear(s, total, config.warmup_ratio))
    lengths, targets = backbone.lengths(items), torch.as_tensor(labels, dtype=torch.long)
    stopper = EarlyStopping(backbone, head, validation, config.patience) if validation is not None else None
    train_mode(backbone.module, config.batchnorm_eval)
    step, seen, losses = 0, 0, []
    while step < total and not (stopper and stopper.stop):
        for batch in bucketed_batches(lengths, config.batch_size, rng):
            features = backbone.forward([items[i] for i in batch])  # (B, dim)
            loss = nn.functional.cross_entropy(head(features), targets[batch])
            if penalty is not None:
                loss = loss + penalty(features)
            losses.append(float(loss.detach()))
            if not math.isfinite(losses[-1]):
                break  # a NaN loss poisons every weight it touches: stop and let the health check flag it
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            step, seen = step + 1, seen + len(batch)
            if step >= total:
                break
        if losses and not math.isfinite(losses[-1]):
            break
        if stopper is not None:
            stopper.check(step)
            train_mode(backbone.module, config.batchnorm_eval)
    backbone.module.eval()
    stats = {"steps": step, "examples_seen": seen} | loss_trace(losses)
    return stats | (stopper.finish() if stopper is not None else {})


def loss_trace(losses: list[float]) -> dict[str, float]:
    """First and last training losses (means over the first and last tenth of the steps, at least one).

    The training-health check reads them: a NaN, or a last loss well above the first, means
    the run diverged and its predictions say nothing about the method.
    """
    if not losses:
        return {"first_loss": math.nan, "final_loss": math.nan, "nan_loss": 0.0}
    k = max(1, len(losses) // 10)
    finite = [x for x in losses if math.isfinite(x)]
    nan = float(len(finite) < len(losses))
    return {
        "first_loss": float(np.mean(losses[:k])) if not nan else math.nan,
        "final_loss": float(np.mean(losses[-k:])) if not nan else math.nan,
        "nan_loss": nan,
    }


def trainable(*modules: nn.Module) -> list[nn.Parameter]:
    """Parameters with ``requires_grad`` across ``modules`` (each once)."""
    seen: set[int] = set()
    out = []
    for module in modules:
        for p in module.parameters():
            if p.requires_grad and id(p) not in seen:
                seen.add(id(p))
                out.append(p)
    return out


def train_mode(module: nn.Module, batchnorm_eval: bool) -> None:
    """``module.train()``, keeping BatchNorm layers on their pretrained statistics if asked.

    Small fine-tuning batches give noisy batch statistics, and frozen layers must not drift
    through their running averages either: the usual choice for fine-tuning CNNs on little data.
    """
    module.train()
    if batchnorm_eval:
        for layer in module.modules():
            if isinstance(layer, nn.modules.batchnorm._BatchNorm):
                layer.eval()


class EarlyStopping:
    """Validation loss after each epoch; keeps a copy of the best trainable weights."""

    def __init__(self, backbone: Backbone, head: nn.Module, validation: tuple[list, np.ndarray], patience: int):
        self.backbone, self.head, self.patience = backbone, head, patience
        self.items, self.labels = validation
        self.params = trainable(backbone.module, head)
        self.best: list[torch.Tensor] | None = None
        self.best_loss, self.best_step = math.inf, 0
        self.bad_epochs, self.stop, self.history = 0, False, []  # history: validation losses

    def check(self, step: int) -> None:
        logits = torch.from_numpy(predict_logits(self.backbone, self.items, self.head))
        loss = float(nn.functional.cross_entropy(logits, torch.as_tensor(self.labels, dtype=torch.long)))
        self.history.append(loss)
        if loss < self.best_loss - 1e-6:
            self.best_loss, self.best_step, self.bad_epochs = loss, step, 0
            self.best = [p.detach().clone() for p in self.params]
        else:
            self.bad_epochs += 1
            self.stop = self.bad_epochs >= self.patience

    def finish(self) -> dict[str, float]:
        """Restore the best weights; the validation statistics for the cell's record."""
        if self.best is not None:
            with torch.no_grad():
                for p, best in zip(self.params, self.best, strict=True):
                    p.copy_(best)
        return {"best_step": self.best_step, "val_loss": self.best_loss, "val_checks": len(self.history)}


def predict_logits(backbone: Backbone, items: list, head: nn.Module, max_tokens: int = 2048) -> np.ndarray:
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
