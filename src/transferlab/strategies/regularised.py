"""Regularised fine-tuning: ``l2-sp`` (Li et al. 2018) and ``bss`` (Chen et al. 2019).

Both are full fine-tuning plus a penalty added to the cross-entropy at every step; the
penalties are pure functions so they are tested without a model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from transferlab.errors import bad_parameter
from transferlab.strategies.base import check_int_range, check_positive, register_strategy
from transferlab.strategies.finetune import FineTune

if TYPE_CHECKING:  # torch is imported where a model trains: listing strategies must not load it
    import torch
    from torch import nn

    from transferlab.strategies.torch_train import Penalty


def l2_sp_penalty(model: nn.Module, reference_params: dict[str, torch.Tensor]) -> torch.Tensor:
    """``1/2 * sum ||w - w0||^2`` over the parameters of ``model`` named in ``reference_params``.

    L2-SP (Li, Grandvalet & Davoine 2018, "Explicit inductive bias for transfer learning with
    convolutional networks"): the starting point (the pretrained weights ``w0``) is the
    reference, not zero. Zero at ``w = w0``.
    """
    import torch

    total = torch.zeros(())
    for name, p in model.named_parameters():
        if name in reference_params:
            total = total + (p - reference_params[name]).pow(2).sum()
    return 0.5 * total


def bss_penalty(features: torch.Tensor, k: int = 1) -> torch.Tensor:
    """Batch spectral shrinkage: the sum of the ``k`` smallest squared singular values of ``features``.

    Chen et al. 2019, "Catastrophic forgetting meets negative transfer: batch spectral
    shrinkage for safe transfer learning": shrinking the small singular values of the batch
    feature matrix ``(B, d)`` suppresses the directions that carry little transferable signal.
    """
    import torch

    singular = torch.linalg.svdvals(features.float())  # (min(B, d),), descending
    return singular[-k:].pow(2).sum()


@register_strategy("l2-sp")
class L2SP(FineTune):
    """Full fine-tuning with ``alpha/2 ||w - w0||^2`` on the backbone and ``beta/2 ||W_head||^2``.

    The penalty replaces weight decay (``weight_decay=0`` by default): decaying towards zero
    would pull against the pull towards the pretrained weights. The paper uses SGD; with AdamW
    the penalty's gradient is rescaled per parameter like the loss's, so ``alpha`` is not
    comparable with the paper's values.
    """

    def __init__(
        self,
        alpha: float = 0.1,
        beta: float = 0.01,
        lr: float = 5e-5,
        head_lr: float = 1e-3,
        epochs: int = 4,
        batch_size: int = 16,
        max_steps: int | None = 50,
        max_length: int = 128,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.0,
        layer_decay: float = 1.0,
        validation_fraction: float = 0.2,
        patience: int = 2,
        random_state: int | None = None,
    ):
        self.alpha = alpha
        self.beta = beta
        super().__init__(
            lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay, layer_decay,
            validation_fraction, patience, random_state,
        )  # fmt: skip

    def check(self, source: Any = None) -> None:
        super().check(source)
        for param in ("alpha", "beta"):
            value = getattr(self, param)
            if not (isinstance(value, int | float) and value >= 0):
                raise bad_parameter(self.name, param, value, ">= 0")

    def _adapt(self, items: list, labels: Any, n_classes: int) -> None:
        module = self.backbone_.module
        self.reference_ = {n: p.detach().clone() for n, p in module.named_parameters() if p.requires_grad}

    def _penalty(self) -> Penalty:
        module, head = self.backbone_.module, self.head_

        def penalty(features: torch.Tensor) -> torch.Tensor:
            pull = l2_sp_penalty(module, self.reference_)
            return self.alpha * pull + self.beta * 0.5 * head.weight.pow(2).sum()

        return penalty


@register_strategy("bss")
class BSS(FineTune):
    """Full fine-tuning with ``eta * sum of the k smallest squared singular values`` of each batch's features."""

    def __init__(
        self,
        eta: float = 1e-3,
        k: int = 1,
        lr: float = 5e-5,
        head_lr: float = 1e-3,
        epochs: int = 4,
        batch_size: int = 16,
        max_steps: int | None = 50,
        max_length: int = 128,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        layer_decay: float = 1.0,
        validation_fraction: float = 0.2,
        patience: int = 2,
        random_state: int | None = None,
    ):
        self.eta = eta
        self.k = k
        super().__init__(
            lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay, layer_decay,
            validation_fraction, patience, random_state,
        )  # fmt: skip

    def check(self, source: Any = None) -> None:
        super().check(source)
        check_positive(self.name, eta=self.eta)
        check_int_range(self.name, "k", self.k, 1, self.batch_size, f" (batch_size={self.batch_size})")

    def _penalty(self) -> Penalty:
        return lambda features: self.eta * bss_penalty(features, self.k)
