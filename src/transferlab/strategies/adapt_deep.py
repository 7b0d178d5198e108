"""Deep domain adaptation on trainable sources: ``dann``, ``dan`` and ``deep-coral``.

Each fine-tunes the source end to end on the labelled source budget while an alignment term
pulls the pooled features of source and target batches together (the loop:
:mod:`transferlab.strategies.da_train`; the losses: :mod:`transferlab.strategies.da_losses`).
The recipe is the fine-tuning ladder's (a deep copy of the source's model, a stratified
validation part of the budget for early stopping, AdamW with warm-up), with the same defaults,
so ``finetune`` at the same settings is the source-only arm each is compared with.

skada's deep methods are not used: its ``deep`` extra pulls torchvision and skorch, and PyPI's
torchvision does not import beside the pinned CPU torch (shared DESIGN.md).

Adversarial training is unstable; run several seeds and read the spread. ``train_stats_`` holds
the task loss's trace (the study flags ``nan-loss`` and ``diverged`` from it) and the domain
classifier's accuracy over training; ``health_`` holds ``domain-collapse`` when it collapsed.

torch is imported inside the methods, so registering these strategies stays cheap.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.strategies.base import Examples, Strategy, check_int_range, check_positive, register_strategy


def target_pool(owner: str, unlabeled: Examples | None) -> Any:
    """The unlabelled target inputs (never their labels), or one line saying they are missing."""
    if unlabeled is None or len(unlabeled) == 0:
        raise InputError(
            f"{owner} adapts to a target domain and needs its unlabelled inputs, but none were given;"
            " run it in a domain study (task: domain_column with source_domains / target_domains, or"
            " target_dataset), or use finetune"
        )
    return unlabeled.inputs


def check_training(strategy: Any, source: Any) -> None:
    """The checks every fine-tuning-based adaptation shares: optimiser settings, then a trainable source."""
    from transferlab.strategies.finetune import check_finetunable

    name = strategy.name
    check_positive(
        name, lr=strategy.lr, head_lr=strategy.head_lr, epochs=strategy.epochs, batch_size=strategy.batch_size,
        patience=strategy.patience,
    )  # fmt: skip
    if strategy.max_steps is not None:
        check_positive(name, max_steps=strategy.max_steps)
    if not 0.0 <= strategy.validation_fraction < 1.0:
        raise bad_parameter(name, "validation_fraction", strategy.validation_fraction, "in [0, 1)")
    check_finetunable(name, source)


class AlignedFineTune(Strategy):
    """Fine-tuning plus an alignment term between source and target features (the shared recipe).

    Parameters
    ----------
    trade_off : weight of the alignment term against the source cross-entropy.
    lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay,
    validation_fraction, patience : as ``finetune``. ``head_lr`` also trains DANN's domain
        classifier (new weights, like the head).

    Each step also draws ``batch_size`` target inputs; at most ``max_steps * batch_size`` target
    inputs are prepared (a seeded sample of the pool), the most the loop can use.
    """

    trains_backbone = True
    uses_unlabeled_target = True
    input_kind = "raw"
    modalities = ("text", "image")

    def __init__(
        self, trade_off: float = 1.0, lr: float = 5e-5, head_lr: float = 1e-3, epochs: int = 4,
        batch_size: int = 16, max_steps: int | None = 50, max_length: int = 128, warmup_ratio: float = 0.1,
        weight_decay: float = 0.01, validation_fraction: float = 0.2, patience: int = 2,
        random_state: int | None = None,
    ):  # fmt: skip
        self.trade_off = trade_off
        self.lr = lr
        self.head_lr = head_lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.max_length = max_length
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> AlignedFineTune:
        import torch
        from torch import nn

        from transferlab.strategies.da_train import health_flags, train_aligned
        from transferlab.strategies.finetune import carve_validation, make_backbone, tuned_copy
        from transferlab.strategies.layers import freeze_unused

        self.check(source)
        pool, seed = target_pool(self.name, unlabeled), int(self.random_state or 0)
        torch.manual_seed(seed)
        self.tuned_ = tuned_copy(source)
        self.backbone_ = make_backbone(self.tuned_, self.max_length)
        items, labels = self.backbone_.prepare(train.inputs), np.asarray(train.labels)
        target_items = self.backbone_.prepare(self._target_sample(pool, seed))
        fit_index, val_index = carve_validation(labels, self.validation_fraction, seed)
        self.head_ = nn.Linear(self.backbone_.dim, len(train.classes))
        self.alignment_ = self._alignment(self.backbone_.dim)
        freeze_unused(self.backbone_, items)
        validation = None if val_index is None else ([items[i] for i in val_index], labels[val_index])
        self.train_stats_ = train_aligned(
            self.backbone_,
            [items[i] for i in fit_index],
            labels[fit_index],
            target_items,
            self.head_,
            self.alignment_,
            self._config(),
            seed,
            self._param_groups(),
            validation,
        )
        self.health_ = health_flags(self.train_stats_)
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        from transferlab.strategies.frozen import softmax
        from transferlab.strategies.torch_train import predict_logits

        return softmax(predict_logits(self.backbone_, self.backbone_.prepare(inputs), self.head_))

    def trainable_parameters(self) -> int:
        """Backbone, head and the alignment's own weights (DANN's domain classifier trains too)."""
        from transferlab.strategies.torch_train import count_trainable

        return count_trainable(self.backbone_.module, self.head_, self.alignment_) if hasattr(self, "head_") else 0

    def check(self, source: Any = None) -> None:
        check_training(self, source)
        check_positive(self.name, max_length=self.max_length, trade_off=self.trade_off)

    def _target_sample(self, pool: Any, seed: int) -> Any:
        limit = (self.max_steps or self.epochs * 10**6) * self.batch_size
        if len(pool) <= limit:
            return pool
        keep = np.sort(np.random.default_rng(seed + 1).choice(len(pool), limit, replace=False))
        return [pool[i] for i in keep] if isinstance(pool, list) else np.asarray(pool)[keep]

    def _alignment(self, dim: int) -> Any:
        raise NotImplementedError

    def _param_groups(self) -> list[dict[str, Any]]:
        from transferlab.strategies.torch_train import trainable

        return [
            {"params": trainable(self.backbone_.module), "lr": self.lr},
            {"params": trainable(self.head_, self.alignment_), "lr": self.head_lr},
        ]

    def _config(self) -> Any:
        from transferlab.strategies.torch_train import TrainConfig

        return TrainConfig(
            lr=self.lr, epochs=self.epochs, batch_size=self.batch_size, max_steps=self.max_steps,
            warmup_ratio=self.warmup_ratio, weight_decay=self.weight_decay, patience=self.patience,
            batchnorm_eval=self.tuned_.modality == "image",
        )  # fmt: skip


@register_strategy("dann")
class DANN(AlignedFineTune):
    """Domain-adversarial training (Ganin et al. 2016): a domain classifier behind a gradient-reversal layer.

    The reversal factor follows the paper's schedule ``2 / (1 + exp(-gamma p)) - 1`` over the
    training progress ``p``. ``domain_hidden`` is the width of the domain classifier's hidden layer.

    Ganin, Ustinova, Ajakan, Germain, Larochelle, Laviolette, Marchand & Lempitsky (2016),
    "Domain-adversarial training of neural networks", JMLR 17.
    """

    def __init__(
        self, trade_off: float = 1.0, domain_hidden: int = 256, gamma: float = 10.0, lr: float = 5e-5,
        head_lr: float = 1e-3, epochs: int = 4, batch_size: int = 16, max_steps: int | None = 50,
        max_length: int = 128, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
        validation_fraction: float = 0.2, patience: int = 2, random_state: int | None = None,
    ):  # fmt: skip
        self.domain_hidden = domain_hidden
        self.gamma = gamma
        super().__init__(
            trade_off, lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay,
            validation_fraction, patience, random_state,
        )  # fmt: skip

    def check(self, source: Any = None) -> None:
        super().check(source)
        check_int_range(self.name, "domain_hidden", self.domain_hidden, 1, 1 << 16)
        check_positive(self.name, gamma=self.gamma)

    def _alignment(self, dim: int) -> Any:
        from transferlab.strategies.da_train import AdversarialAlignment

        return AdversarialAlignment(dim, int(self.domain_hidden), float(self.trade_off), float(self.gamma))


@register_strategy("dan")
class DAN(AlignedFineTune):
    """Deep adaptation network (Long et al. 2015): multi-kernel MMD between source and target features.

    ``n_kernels`` Gaussian kernels at bandwidths ``kernel_mul ** k`` times the batch's median
    squared distance (:func:`~transferlab.strategies.da_losses.mmd_loss`), on the pooled features.

    Long, Cao, Wang & Jordan (2015), "Learning transferable features with deep adaptation
    networks", ICML.
    """

    def __init__(
        self, trade_off: float = 1.0, n_kernels: int = 5, kernel_mul: float = 2.0, lr: float = 5e-5,
        head_lr: float = 1e-3, epochs: int = 4, batch_size: int = 16, max_steps: int | None = 50,
        max_length: int = 128, warmup_ratio: float = 0.1, weight_decay: float = 0.01,
        validation_fraction: float = 0.2, patience: int = 2, random_state: int | None = None,
    ):  # fmt: skip
        self.n_kernels = n_kernels
        self.kernel_mul = kernel_mul
        super().__init__(
            trade_off, lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay,
            validation_fraction, patience, random_state,
        )  # fmt: skip

    def check(self, source: Any = None) -> None:
        super().check(source)
        check_int_range(self.name, "n_kernels", self.n_kernels, 1, 32)
        check_positive(self.name, kernel_mul=self.kernel_mul)

    def _alignment(self, dim: int) -> Any:
        from functools import partial

        from transferlab.strategies.da_losses import mmd_loss
        from transferlab.strategies.da_train import DiscrepancyAlignment

        mmd = partial(mmd_loss, n_kernels=int(self.n_kernels), kernel_mul=float(self.kernel_mul))
        return DiscrepancyAlignment(mmd, float(self.trade_off))


@register_strategy("deep-coral")
class DeepCORAL(AlignedFineTune):
    """Deep CORAL (Sun & Saenko 2016): the gap between source and target feature covariances as a loss.

    The loss ``||C_s - C_t||_F^2 / (4 d^2)`` is small in absolute terms for wide features; the
    paper sets ``trade_off`` so that it and the cross-entropy end training at a similar size.
    """

    def _alignment(self, dim: int) -> Any:
        from transferlab.strategies.da_losses import coral_loss
        from transferlab.strategies.da_train import DiscrepancyAlignment

        return DiscrepancyAlignment(coral_loss, float(self.trade_off))
