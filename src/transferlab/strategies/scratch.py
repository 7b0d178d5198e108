"""The from-scratch baseline: the source's own architecture, randomly initialised, trained on the budget.

It answers "what does pretraining buy?" with everything else held fixed: same architecture,
tokenizer, labelled examples and optimiser. On CPU it is bounded by ``max_steps`` and a
shorter ``max_length`` (recorded in the cell key), which is what a from-scratch run under the
same small budget of compute would get.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.sources.base import Source
from transferlab.strategies.base import Examples, Strategy, check_positive, register_strategy
from transferlab.strategies.frozen import softmax


@register_strategy("scratch")
class Scratch(Strategy):
    """Random-init twin of the source + linear head, trained end to end with AdamW."""

    trains_backbone = True
    input_kind = "raw"
    is_baseline = True

    def __init__(
        self,
        lr: float = 5e-4,
        epochs: int = 10,
        batch_size: int = 16,
        max_steps: int = 30,
        max_length: int = 64,
        random_state: int | None = None,
    ):
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.max_length = max_length
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        check_positive(
            self.name,
            lr=self.lr,
            epochs=self.epochs,
            batch_size=self.batch_size,
            max_steps=self.max_steps,
            max_length=self.max_length,
        )
        if source is None or type(source).random_twin is Source.random_twin:  # not overridden: no twin
            name = getattr(source, "name", None)
            raise InputError(
                f"scratch: source {name!r} has no architecture to build from random weights;"
                " use scratch with a neural source (minilm-l6, minilm-l3, efficientnet-lite0, hf:...)"
            )

    def fit(self, train: Examples, unlabeled: Examples | None = None, source: Any = None) -> Scratch:
        from torch import nn  # imported here: listing strategies must not load torch

        from transferlab.strategies.torch_train import TrainConfig, train_classifier

        self.check(source)
        seed = int(self.random_state or 0)
        twin = source.random_twin(seed)
        self.backbone_ = twin.backbone(self.max_length) if twin.modality == "text" else twin.backbone()
        self.head_ = nn.Linear(self.backbone_.dim, len(train.classes))
        config = TrainConfig(lr=self.lr, epochs=self.epochs, batch_size=self.batch_size, max_steps=self.max_steps)
        items = self.backbone_.prepare(train.inputs)
        self.train_stats_ = train_classifier(self.backbone_, items, np.asarray(train.labels), self.head_, config, seed)
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        from transferlab.strategies.torch_train import predict_logits

        return softmax(predict_logits(self.backbone_, self.backbone_.prepare(inputs), self.head_))

    def trainable_parameters(self) -> int:
        from transferlab.strategies.torch_train import count_trainable

        return count_trainable(self.backbone_.module, self.head_) if hasattr(self, "head_") else 0
