"""``adabn``: adaptive batch normalisation (Li et al. 2016), for sources that have batch norm.

A network's BatchNorm layers normalise with the statistics of the data they were estimated
on; AdaBN holds that domain knowledge lives in those statistics and the weights are shared. So:

1. the source's BatchNorm statistics are re-estimated on the labelled source budget;
2. the network is fine-tuned on the source exactly as ``finetune`` does (for image sources the
   BatchNorm statistics stay frozen while training, so they remain the source's);
3. the statistics are re-estimated on the unlabelled target pool, and target inputs are
   predicted with them. ``predict_proba_source`` swaps the source statistics back in.

Only sources with BatchNorm layers qualify (the EfficientNets); ``check`` rejects any other with
one line. Li, Wang, Shi, Liu & Hou (2016), "Revisiting batch normalization for practical domain
adaptation", arXiv:1603.04779 (ICLR workshop 2017).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.strategies.adapt_deep import check_training, target_pool
from transferlab.strategies.base import Examples, Strategy, register_strategy

STATISTICS_BATCH = 64  # images per forward pass while re-estimating statistics


def batchnorm_layers(module: Any) -> list[Any]:
    """Every BatchNorm layer of a torch module (empty for a transformer: it has LayerNorm)."""
    from torch import nn

    return [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]


def reestimate_batchnorm(backbone: Any, items: list) -> None:
    """Replace every BatchNorm layer's running mean and variance by those of ``items``.

    Momentum ``None`` makes PyTorch keep a cumulative average of the batch statistics instead of
    an exponential one, so every batch counts equally. Only the BatchNorm layers are put in
    training mode (dropout and drop-connect stay off); no gradient is computed.
    """
    import torch

    layers = batchnorm_layers(backbone.module)
    momenta = [layer.momentum for layer in layers]
    backbone.module.eval()
    for layer in layers:
        layer.reset_running_stats()
        layer.momentum = None
        layer.train()
    with torch.no_grad():
        for start in range(0, len(items), STATISTICS_BATCH):
            backbone.forward(items[start : start + STATISTICS_BATCH])
    for layer, momentum in zip(layers, momenta, strict=True):
        layer.momentum = momentum
    backbone.module.eval()


def batchnorm_statistics(module: Any) -> list[tuple[Any, Any]]:
    """Copies of (running mean, running variance) of every BatchNorm layer, in module order."""
    return [(layer.running_mean.clone(), layer.running_var.clone()) for layer in batchnorm_layers(module)]


def load_batchnorm_statistics(module: Any, statistics: list[tuple[Any, Any]]) -> None:
    """Write statistics taken by :func:`batchnorm_statistics` back into ``module``."""
    for layer, (mean, var) in zip(batchnorm_layers(module), statistics, strict=True):
        layer.running_mean.copy_(mean)
        layer.running_var.copy_(var)


@register_strategy("adabn")
class AdaBN(Strategy):
    """Fine-tune on the source with source BatchNorm statistics; predict the target with the target's.

    Parameters are those of ``finetune`` (images only, so no ``max_length``); the fine-tuning is
    ``finetune``'s own, so that arm at the same settings is the one to compare with.
    """

    trains_backbone = True
    uses_unlabeled_target = True
    input_kind = "raw"
    modalities = ("image",)

    def __init__(
        self,
        lr: float = 5e-5,
        head_lr: float = 1e-3,
        epochs: int = 4,
        batch_size: int = 16,
        max_steps: int | None = 50,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        validation_fraction: float = 0.2,
        patience: int = 2,
        random_state: int | None = None,
    ):
        self.lr = lr
        self.head_lr = head_lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        check_training(self, source)
        if not batchnorm_layers(source.model):
            raise InputError(
                f"adabn: source {source.name!r} has no BatchNorm layers, and AdaBN re-estimates batch-norm"
                " statistics on the target; use it with efficientnet-lite0/1/2, or dann, dan or deep-coral"
            )

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> AdaBN:
        from transferlab.strategies.finetune import make_backbone, tuned_copy

        self.check(source)
        pool = target_pool(self.name, unlabeled)
        with_source_statistics = tuned_copy(source)
        backbone = make_backbone(with_source_statistics, self._finetune().max_length)
        reestimate_batchnorm(backbone, backbone.prepare(train.inputs))
        self.finetune_ = self._finetune().fit(train, source=with_source_statistics)
        tuned = self.finetune_.backbone_
        self.source_statistics_ = batchnorm_statistics(tuned.module)
        reestimate_batchnorm(tuned, tuned.prepare(pool))
        self.target_statistics_ = batchnorm_statistics(tuned.module)
        self.train_stats_ = dict(self.finetune_.train_stats_)
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        return self.finetune_.predict_proba(inputs)

    def predict_proba_source(self, inputs: Any) -> np.ndarray:
        import torch

        module = self.finetune_.backbone_.module
        with torch.no_grad():
            load_batchnorm_statistics(module, self.source_statistics_)
            try:
                return self.finetune_.predict_proba(inputs)
            finally:
                load_batchnorm_statistics(module, self.target_statistics_)

    def trainable_parameters(self) -> int:
        return self.finetune_.trainable_parameters() if hasattr(self, "finetune_") else 0

    def _finetune(self) -> Strategy:
        from transferlab.strategies.finetune import FineTune

        return FineTune(
            lr=self.lr,
            head_lr=self.head_lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            max_steps=self.max_steps,
            warmup_ratio=self.warmup_ratio,
            weight_decay=self.weight_decay,
            validation_fraction=self.validation_fraction,
            patience=self.patience,
            random_state=self.random_state,
        )
