"""The training loop of the deep adaptation methods: labelled source batches, unlabelled target batches.

It is :func:`~transferlab.strategies.torch_train.train_classifier` with a second stream. Each
step takes a source batch (length-bucketed, shuffled) and a target batch of the same size drawn
from the target pool, forwards each through the backbone (two passes, so each batch is padded
only to its own longest text), and minimises the source cross-entropy plus the method's
alignment term on the two batches' pooled features (an :class:`Alignment`: DANN's adversarial
domain classifier, DAN's MMD, Deep CORAL's covariance gap). The optimiser, warm-up and decay,
early stopping on a source validation part (never on target labels) and the restored best
weights are those of the fine-tuning ladder, so ``finetune`` with the same settings is the
source-only arm to compare with.

A non-finite loss stops training at once, before it reaches the weights. The returned
statistics carry what the study's training-health check reads (see :func:`run_stats`), and
:func:`health_flags` the ``domain-collapse`` flag of an adversarial run.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from transferlab.sources.base import Backbone
from transferlab.strategies.torch_train import (
    EarlyStopping,
    TrainConfig,
    bucketed_batches,
    loss_trace,
    n_steps,
    train_mode,
    warmup_linear,
)


class Alignment(Protocol):
    """What a deep adaptation method adds to the loss; its own parameters train with the head."""

    def parameters(self) -> Any: ...

    def train(self, mode: bool = True) -> Any: ...

    def __call__(self, source: torch.Tensor, target: torch.Tensor, progress: float) -> torch.Tensor: ...

    def health(self) -> dict[str, Any]: ...


def train_aligned(
    backbone: Backbone,
    items: list,
    labels: np.ndarray,
    target_items: list,
    head: nn.Module,
    alignment: Alignment,
    config: TrainConfig,
    seed: int,
    param_groups: list[dict[str, Any]],
    validation: tuple[list, np.ndarray] | None = None,
) -> dict[str, Any]:
    """Train ``backbone.module``, ``head`` and ``alignment`` on source labels plus the alignment term.

    ``progress`` passed to the alignment runs from 0 to 1 over the planned steps (DANN's
    schedule reads it). Returns the statistics of the run (see :func:`run_stats`).
    """
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    optimiser = torch.optim.AdamW(param_groups, lr=config.lr, weight_decay=config.weight_decay, fused=True)
    total = n_steps(len(items), config)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, lambda s: warmup_linear(s, total, config.warmup_ratio))
    lengths, targets = backbone.lengths(items), torch.as_tensor(labels, dtype=torch.long)
    stopper = EarlyStopping(backbone, head, validation, config.patience) if validation is not None else None
    train_mode(backbone.module, config.batchnorm_eval)
    alignment.train()
    losses: list[tuple[float, float]] = []  # (task, alignment) per step
    nan_loss = False
    while len(losses) < total and not (stopper and stopper.stop) and not nan_loss:
        for batch in bucketed_batches(lengths, config.batch_size, rng):
            drawn = rng.choice(len(target_items), size=len(batch), replace=len(target_items) < len(batch))
            source = backbone.forward([items[i] for i in batch])  # (B, dim)
            target = backbone.forward([target_items[i] for i in drawn])  # (B, dim)
            task = nn.functional.cross_entropy(head(source), targets[batch])
            align = alignment(source, target, len(losses) / total)
            loss = task + align
            if not torch.isfinite(loss):
                nan_loss = True
                break
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            schedule.step()
            losses.append((float(task.detach()), float(align.detach())))
            if len(losses) >= total:
                break
        if stopper is not None and not nan_loss:
            stopper.check(len(losses))
            train_mode(backbone.module, config.batchnorm_eval)
    backbone.module.eval()
    alignment.train(False)
    stats = run_stats(np.array(losses).reshape(-1, 2), nan_loss, alignment.health())
    return stats | (stopper.finish() if stopper is not None else {})


def run_stats(losses: np.ndarray, nan_loss: bool, health: dict[str, Any]) -> dict[str, Any]:
    """The record of a run: the task loss's trace, the final alignment loss and the alignment's health.

    The task loss is traced as :func:`~transferlab.strategies.torch_train.loss_trace` traces the
    fine-tuning ladder's (``first_loss``, ``final_loss``, ``nan_loss``), so the study's health
    check reads both alike and flags ``nan-loss`` and ``diverged``. ``losses``: (steps, 2), the
    task and alignment loss of every completed step.
    """
    trace = loss_trace([float(x) for x in losses[:, 0]] + ([math.nan] if nan_loss else []))
    tenth = max(1, len(losses) // 10)
    final_alignment = float(losses[-tenth:, 1].mean()) if len(losses) else math.nan
    return {"steps": len(losses), **trace, "final_alignment_loss": final_alignment, **health}


def health_flags(stats: dict[str, Any]) -> list[str]:
    """The extra flag an adversarial run can raise (``domain-collapse``), for the study's ``health_``."""
    return ["domain-collapse"] if stats.get("collapsed") else []


class AdversarialAlignment(nn.Module):
    """DANN's alignment: a domain classifier behind a gradient-reversal layer.

    The classifier (``dim -> hidden -> 1``, ReLU, dropout 0.5) is trained to tell source (0) from
    target (1) with the logistic loss; the features get that gradient reversed and scaled by
    ``dann_lambda(progress)``. ``trade_off`` weights the domain loss. Every step's domain
    predictions are recorded for :func:`~transferlab.strategies.da_losses.domain_health`.
    """

    def __init__(self, dim: int, hidden: int, trade_off: float, gamma: float = 10.0):
        super().__init__()
        self.classifier = nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), nn.Dropout(0.5), nn.Linear(hidden, 1))
        self.trade_off, self.gamma = trade_off, gamma
        self.correct: list[tuple[int, int]] = []  # (right, made) per step
        self.to_target: list[int] = []  # predicted target per step

    def forward(self, source: torch.Tensor, target: torch.Tensor, progress: float) -> torch.Tensor:
        from transferlab.strategies.da_losses import dann_lambda, gradient_reversal

        features = gradient_reversal(torch.cat([source, target]), dann_lambda(progress, self.gamma))  # (2B, dim)
        logits = self.classifier(features).squeeze(-1)  # (2B,)
        domain = torch.cat([torch.zeros(len(source)), torch.ones(len(target))])
        with torch.no_grad():
            predicted = logits > 0
            self.correct.append((int((predicted == domain.bool()).sum()), len(domain)))
            self.to_target.append(int(predicted.sum()))
        return self.trade_off * nn.functional.binary_cross_entropy_with_logits(logits, domain)

    def health(self) -> dict[str, Any]:
        from transferlab.strategies.da_losses import domain_health

        return domain_health(np.array(self.correct).reshape(-1, 2), np.array(self.to_target))


class DiscrepancyAlignment(nn.Module):
    """A parameter-free alignment term: ``trade_off * discrepancy(source, target)`` (MMD, CORAL)."""

    def __init__(self, discrepancy: Any, trade_off: float):
        super().__init__()
        self.discrepancy, self.trade_off = discrepancy, trade_off

    def forward(self, source: torch.Tensor, target: torch.Tensor, progress: float) -> torch.Tensor:
        return self.trade_off * self.discrepancy(source, target)

    def health(self) -> dict[str, Any]:
        return {}
