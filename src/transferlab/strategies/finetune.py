"""Fine-tuning a source end to end: ``finetune``, ``finetune-top-k`` and ``lp-ft``.

Every fine-tuning strategy (LoRA and the regularised ones too) follows one recipe, written
once in :class:`FineTune` and varied through three hooks (what to train, the penalty, the
AdamW groups):

1. check the parameters and that the source can be fine-tuned (one :class:`InputError` line);
2. deep-copy the source's model: the source is shared with every other cell of the worker
   (and its cached embeddings), so it must never change;
3. tokenise / preprocess the budget once;
4. carve a stratified validation part out of the budget (never the test set) when every class
   keeps >= 2 examples on both sides; otherwise train for the fixed number of epochs;
5. train with AdamW, linear warm-up and decay (:func:`train_classifier`), early stopping on
   the validation loss, best weights restored.

CPU-realistic defaults: ``max_length=128`` tokens, 4 epochs capped at ``max_steps=50`` steps of
16 examples (800 examples seen at most). Full fine-tuning of minilm-l6 at 128 tokens measured
1.75 examples/s on 2 heavily shared cores (``benchmarks/bench_finetune.py``, the same rate as
Hugging Face's ``Trainer`` in the same run), so a capped cell takes minutes, not hours; an idle
machine is several times faster. Raise ``max_steps`` on a bigger machine.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.sources.base import Backbone, Source
from transferlab.strategies.base import Examples, Strategy, check_int_range, check_positive, register_strategy
from transferlab.strategies.frozen import fit_logistic, softmax

if TYPE_CHECKING:  # torch is imported where a model trains: listing strategies must not load it
    from transferlab.strategies.torch_train import Penalty, TrainConfig

LP_C_GRID = (
    0.1,
    1.0,
    10.0,
    100.0,
)  # unscaled features: a standardised probe's huge weights would amplify dropout noise


def finetunable_sources() -> list[str]:
    """Names of the registered sources whose weights can be trained, and the prefix forms."""
    from transferlab.sources import load_builtin_sources
    from transferlab.sources.zoo_text import INFO

    load_builtin_sources()
    return sorted(name for name, info in INFO.items() if info.trainable) + [
        "hf:<folder>",
        "sentence-transformers:<folder>",
    ]


def check_finetunable(owner: str, source: Any) -> None:
    """Raise unless ``source`` has trainable weights and a trainable view (``backbone()``)."""
    if source is not None and getattr(source, "trainable", False) and hasattr(source, "backbone"):
        return
    name = getattr(source, "name", None)
    raise InputError(
        f"{owner}: source {name!r} cannot be fine-tuned (its weights are frozen);"
        f" fine-tunable sources: {', '.join(finetunable_sources())}"
    )


def tuned_copy(source: Source) -> Any:
    """A shallow copy of ``source`` holding a deep copy of its model (the one to train)."""
    tuned = copy.copy(source)
    tuned.model = copy.deepcopy(source.model)
    return tuned


def make_backbone(source: Any, max_length: int) -> Backbone:
    """The trainable view: text encoders truncate to ``max_length`` tokens."""
    return source.backbone(max_length) if source.modality == "text" else source.backbone()


def carve_validation(labels: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray | None]:
    """Stratified (train, validation) indices of the budget, or (all, None) when too small.

    Each class gives ``round(fraction * count)`` examples to validation; the split is used only
    when every class keeps at least 2 examples on both sides.
    """
    everything = np.arange(len(labels))
    if fraction <= 0:
        return everything, None
    rng = np.random.default_rng(seed)
    fit_part, val_part = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        n_val = int(round(fraction * len(members)))
        if n_val < 2 or len(members) - n_val < 2:
            return everything, None
        val_part.append(members[:n_val])
        fit_part.append(members[n_val:])
    return np.sort(np.concatenate(fit_part)), np.sort(np.concatenate(val_part))


@register_strategy("finetune")
class FineTune(Strategy):
    """Full fine-tuning: every backbone weight and a linear head on the pooled features.

    Parameters
    ----------
    lr : AdamW learning rate of the backbone. head_lr : of the randomly initialised head (it
        starts from nothing, so it needs larger steps than pretrained weights).
    epochs, batch_size, max_steps : passes over the training part, capped at ``max_steps``.
    max_length : tokens kept per text (ignored for images).
    warmup_ratio, weight_decay : linear warm-up share of the steps; AdamW decoupled decay.
    layer_decay : layer-wise learning-rate decay in (0, 1]: each block gets ``layer_decay``
        times the learning rate of the block above (1 = off).
    validation_fraction : share of the budget held out for early stopping (0 = never).
    patience : epochs without a lower validation loss before stopping.
    """

    trains_backbone = True
    input_kind = "raw"
    modalities = ("text", "image")

    def __init__(
        self,
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
        self.lr = lr
        self.head_lr = head_lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.max_length = max_length
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.layer_decay = layer_decay
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.random_state = random_state

    # ------------------------------------------------------------------ the recipe

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> FineTune:
        import torch
        from torch import nn

        from transferlab.strategies.layers import freeze_unused
        from transferlab.strategies.torch_train import train_classifier

        self.check(source)
        seed = int(self.random_state or 0)
        torch.manual_seed(seed)
        self.tuned_ = tuned_copy(source)
        self.backbone_ = make_backbone(self.tuned_, self.max_length)
        items, labels = self.backbone_.prepare(train.inputs), np.asarray(train.labels)
        fit_index, val_index = carve_validation(labels, self.validation_fraction, seed)
        fit_items, fit_labels = [items[i] for i in fit_index], labels[fit_index]
        self.head_ = nn.Linear(self.backbone_.dim, len(train.classes))
        self._adapt(fit_items, fit_labels, len(train.classes))
        freeze_unused(self.backbone_, items)
        validation = None if val_index is None else ([items[i] for i in val_index], labels[val_index])
        self.n_validation_ = 0 if val_index is None else len(val_index)
        self.train_stats_ = train_classifier(
            self.backbone_,
            fit_items,
            fit_labels,
            self.head_,
            self._config(),
            seed,
            penalty=self._penalty(),
            validation=validation,
            param_groups=self._param_groups(),
        )
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        from transferlab.strategies.torch_train import predict_logits

        return softmax(predict_logits(self.backbone_, self.backbone_.prepare(inputs), self.head_))

    def trainable_parameters(self) -> int:
        from transferlab.strategies.torch_train import count_trainable

        return count_trainable(self.backbone_.module, self.head_) if hasattr(self, "head_") else 0

    def encoder_after(self) -> Source:
        """The fine-tuned text encoder as a source (its revision hashes the trained weights)."""
        from transferlab.sources.text import TorchTextSource
        from transferlab.strategies.layers import weights_digest

        tuned = self.tuned_
        if tuned.modality != "text":
            raise InputError(f"{self.name}: encoder_after() is defined for text encoders, got a {tuned.modality} one")
        revision = f"{self.name}-{weights_digest(tuned.model)}"
        name = f"{tuned.name}+{self.name}"
        settings = (tuned.max_length, tuned.precision, tuned.max_tokens)
        pooled = {"pooling": tuned.pooling, "normalize": tuned.normalize}
        return TorchTextSource(tuned.model.eval(), tuned.tokenizer, name, revision, *settings, **pooled)

    # ------------------------------------------------------------------ hooks for the variants

    def check(self, source: Any = None) -> None:
        """Validate parameters and source (one InputError line); variants add their own checks."""
        check_positive(
            self.name,
            lr=self.lr,
            head_lr=self.head_lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            max_length=self.max_length,
            patience=self.patience,
        )
        if self.max_steps is not None:
            check_positive(self.name, max_steps=self.max_steps)
        if not 0.0 <= self.validation_fraction < 1.0:
            raise bad_parameter(self.name, "validation_fraction", self.validation_fraction, "in [0, 1)")
        if not 0.0 < self.layer_decay <= 1.0:
            raise bad_parameter(self.name, "layer_decay", self.layer_decay, "in (0, 1] (1 = no decay)")
        check_finetunable(self.name, source)

    def _adapt(self, items: list, labels: np.ndarray, n_classes: int) -> None:
        """Choose what trains before the loop starts (full fine-tuning: everything)."""

    def _penalty(self) -> Penalty | None:
        return None

    def _param_groups(self) -> list[dict[str, Any]]:
        from transferlab.strategies.layers import decayed_param_groups
        from transferlab.strategies.torch_train import trainable

        module = self.backbone_.module
        if self.layer_decay < 1.0:
            groups = decayed_param_groups(module, self.lr, self.layer_decay)
        else:
            groups = [{"params": trainable(module), "lr": self.lr}]
        return [g for g in groups if g["params"]] + [{"params": trainable(self.head_), "lr": self.head_lr}]

    def _config(self) -> TrainConfig:
        from transferlab.strategies.torch_train import TrainConfig

        return TrainConfig(
            lr=self.lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            max_steps=self.max_steps,
            warmup_ratio=self.warmup_ratio,
            weight_decay=self.weight_decay,
            patience=self.patience,
            batchnorm_eval=self.tuned_.modality == "image",
        )


@register_strategy("finetune-top-k")
class FineTuneTopK(FineTune):
    """Partial fine-tuning: the top ``k`` blocks (and whatever sits above them) plus the head.

    The lower blocks and the embeddings stay frozen, so backpropagation stops at block
    ``L - k`` and a step costs less than full fine-tuning.
    """

    def __init__(
        self,
        k: int = 2,
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
        self.k = k
        super().__init__(
            lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay, layer_decay,
            validation_fraction, patience, random_state,
        )  # fmt: skip

    def check(self, source: Any = None) -> None:
        from transferlab.strategies.layers import block_list

        super().check(source)
        n_blocks = len(block_list(source.model))
        check_int_range(self.name, "k", self.k, 0, n_blocks, f" (the blocks of {source.name})")

    def _adapt(self, items: list, labels: np.ndarray, n_classes: int) -> None:
        from transferlab.strategies.layers import train_top_blocks

        train_top_blocks(self.backbone_.module, self.k)


@register_strategy("lp-ft")
class LinearProbeThenFineTune(FineTune):
    """LP-FT (Kumar et al. 2022): fit the head on frozen features first, then fine-tune all.

    Starting from a good head keeps the first fine-tuning steps from distorting the pretrained
    features to fit a random one. Stage 1 is a logistic regression (C by CV within the training
    part, as ``linear-probe``) on the frozen pooled features, copied into the linear head;
    stage 2 is :class:`FineTune` with the head at ``head_lr`` (by default the backbone's rate:
    the head no longer needs larger steps).
    """

    def __init__(
        self,
        lr: float = 5e-5,
        head_lr: float = 5e-5,
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
        super().__init__(
            lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay, layer_decay,
            validation_fraction, patience, random_state,
        )  # fmt: skip

    def _adapt(self, items: list, labels: np.ndarray, n_classes: int) -> None:
        import torch
        from torch import nn

        from transferlab.strategies.torch_train import predict_logits

        features = predict_logits(self.backbone_, items, nn.Identity())  # (n, dim) frozen pooled features
        probe = fit_logistic(features, labels, LP_C_GRID, self.random_state, scale=False)
        weight, bias = probe_as_linear(probe, n_classes)
        with torch.no_grad():
            self.head_.weight.copy_(torch.from_numpy(weight))
            self.head_.bias.copy_(torch.from_numpy(bias))


def probe_as_linear(probe: Any, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """A fitted logistic-regression pipeline (optionally behind a ``StandardScaler``) as one linear layer's (W, b).

    A scaler folds in (``W' = W / sd``, ``b' = b - W' mean``); a binary model's single row
    becomes two opposite rows (same softmax); classes absent from the budget get logit -10
    below the lowest seen bias.
    """
    model = probe[-1]
    coef, intercept = model.coef_, model.intercept_
    if len(probe) > 1:
        scaler = probe[0]
        coef = coef / scaler.scale_[None, :]
        intercept = intercept - coef @ scaler.mean_
    if coef.shape[0] == 1:
        coef, intercept = np.stack([-coef[0] / 2, coef[0] / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
    weight = np.zeros((n_classes, coef.shape[1]), dtype=np.float32)
    bias = np.full(n_classes, intercept.min() - 10.0, dtype=np.float32)
    weight[model.classes_], bias[model.classes_] = coef, intercept
    return weight, bias
