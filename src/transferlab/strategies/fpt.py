"""A language-pretrained transformer on images: the frozen pretrained transformer (Lu et al. 2021).

"Pretrained Transformers as Universal Computation Engines": an image is cut into patches, each
patch is a token, and the blocks of a transformer pretrained on *text* process the sequence with
their self-attention and feed-forward weights frozen. Only what connects the new modality is
trained: the input projection (patch -> hidden size), the positional embeddings, every LayerNorm,
and the classification head over the mean of the output tokens.

``fpt`` uses the text encoder's pretrained blocks (``encoder: minilm-l3`` or ``minilm-l6``, their
torch ``BertModel``); ``fpt-random`` is its control, a baseline: the same architecture and the
same trainable parameters, with the frozen blocks drawn from the model's own initialiser. The
gain of ``fpt`` over ``fpt-random`` (with its interval and verdict in the study's report) is what
language pretraining of the frozen blocks carries over to images.

Images are brought to [0, 1] by the rule of the image sources, fixed on the training images
(:func:`~transferlab.sources.vision.pixel_range`) and reused for every prediction, zero-padded to
a multiple of ``patch_size`` and cut into non-overlapping patches in raster order.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from transferlab.errors import bad_parameter
from transferlab.sources.vision import as_images, pixel_range, scale_to_unit
from transferlab.strategies.base import Examples, Strategy, check_int_range, check_positive, register_strategy
from transferlab.strategies.frozen import softmax

ENCODERS = ("minilm-l3", "minilm-l6")


def patchify(images: np.ndarray, patch: int) -> np.ndarray:
    """Images ``(n, H, W, C)`` -> patch tokens ``(n, T, patch * patch * C)``, T = ceil(H/p) * ceil(W/p)."""
    n, height, width, channels = images.shape
    pad_h, pad_w = -height % patch, -width % patch
    padded = np.pad(images, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)))  # (n, H', W', C)
    rows, cols = padded.shape[1] // patch, padded.shape[2] // patch
    tokens = padded.reshape(n, rows, patch, cols, patch, channels).transpose(0, 1, 3, 2, 4, 5)
    return np.ascontiguousarray(tokens.reshape(n, rows * cols, patch * patch * channels), dtype=np.float32)


@register_strategy("fpt")
class FrozenPretrainedTransformer(Strategy):
    """Images as patch sequences through a text encoder's frozen blocks (see the module docstring)."""

    uses_source = False
    trains_backbone = True
    input_kind = "raw"
    modalities = ("image",)
    modality_required = True
    pretrained: ClassVar[bool] = True

    def __init__(
        self,
        encoder: str = "minilm-l3",
        patch_size: int = 2,
        lr: float = 1e-3,
        epochs: int = 30,
        batch_size: int = 32,
        max_steps: int = 300,
        random_state: int | None = None,
    ):
        self.encoder = encoder
        self.patch_size = patch_size
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.max_steps = max_steps
        self.random_state = random_state

    def check(self, source: Any = None) -> None:
        if self.encoder not in ENCODERS:
            raise bad_parameter(self.name, "encoder", self.encoder, f"one of {', '.join(ENCODERS)}")
        check_int_range(self.name, "patch_size", self.patch_size, 1, 64)
        check_positive(self.name, lr=self.lr)
        for param in ("epochs", "batch_size", "max_steps"):
            check_int_range(self.name, param, getattr(self, param), 1, 10**6)

    def _tokens(self, inputs: Any) -> np.ndarray:
        return patchify(scale_to_unit(as_images(inputs), self.value_range_), int(self.patch_size))

    def fit(
        self, train: Examples, unlabeled: Examples | None = None, source: Any = None
    ) -> FrozenPretrainedTransformer:
        import torch  # here and in fpt_model: listing strategies must not load torch
        from torch import nn

        from transferlab.strategies.fpt_model import PatchBackbone, PatchTransformer, build_encoder
        from transferlab.strategies.torch_train import TrainConfig, train_classifier

        self.check(source)
        seed = int(self.random_state or 0) % 2**32
        self.value_range_ = pixel_range(as_images(train.inputs))
        tokens = self._tokens(train.inputs)  # (n, T, k)
        module = PatchTransformer(build_encoder(self.encoder, self.pretrained, seed), tokens.shape[2])
        self.backbone_ = PatchBackbone(module)
        torch.manual_seed(seed)
        self.head_ = nn.Linear(self.backbone_.dim, len(train.classes))
        config = TrainConfig(lr=self.lr, epochs=self.epochs, batch_size=self.batch_size, max_steps=self.max_steps)
        items = self.backbone_.prepare(tokens)
        self.train_stats_ = train_classifier(self.backbone_, items, np.asarray(train.labels), self.head_, config, seed)
        return self

    def predict_proba(self, inputs: Any) -> np.ndarray:
        from transferlab.strategies.torch_train import predict_logits

        items = self.backbone_.prepare(self._tokens(inputs))
        return softmax(predict_logits(self.backbone_, items, self.head_))

    def trainable_parameters(self) -> int:
        from transferlab.strategies.torch_train import count_trainable

        return count_trainable(self.backbone_.module, self.head_) if hasattr(self, "head_") else 0


@register_strategy("fpt-random")
class RandomFrozenTransformer(FrozenPretrainedTransformer):
    """The control of ``fpt``: the same frozen architecture from random initialisation."""

    is_baseline = True
    pretrained = False
