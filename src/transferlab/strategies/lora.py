"""``lora``: low-rank adapters (Hu et al. 2021) through the peft library, plus a trained linear head.

peft trains only the adapters; the classification head is ours and is trained with them. A
common silent failure in peft users' reports is saving the adapter but not the head, so a
reloaded model predicts with a random head: :meth:`LoRA.save` writes both, and
:meth:`LoRA.load` refuses a source whose weights differ from the ones the adapter was
trained on.

EfficientNet's convolutions are ``Conv2dStaticSamePadding`` (an ``nn.Conv2d`` subclass that
peft cannot rebuild), so the 1x1 convolutions an adapter targets are swapped for plain
``nn.Conv2d`` with the same weights first: a 1x1 stride-1 convolution has no padding, so the
output is unchanged.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.strategies.base import check_positive, register_strategy
from transferlab.strategies.finetune import FineTune, check_finetunable, make_backbone, tuned_copy

if TYPE_CHECKING:  # torch is imported where a model trains: listing strategies must not load it
    from torch import nn

DEFAULT_TARGETS = {"bert": ("query", "value"), "image": ("_expand_conv", "_project_conv")}
FORMAT_VERSION = 1


@contextmanager
def quiet_peft() -> Iterator[None]:
    """peft asks transformers 5 about gradient checkpointing through a deprecated name; the
    FutureWarning it prints on every LoRA cell is about peft's internals, not the user's study."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*", category=FutureWarning)
        yield


def _is_pointwise(layer: nn.Module) -> bool:
    from torch import nn

    return isinstance(layer, nn.Conv2d) and layer.kernel_size == (1, 1) and tuple(layer.stride) == (1, 1)


def plain_pointwise_convs(model: nn.Module) -> None:
    """Replace every 1x1 stride-1 ``nn.Conv2d`` subclass by a plain ``nn.Conv2d`` (same weights)."""
    from torch import nn

    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is not nn.Conv2d and _is_pointwise(child) and child.groups == 1:
                plain = nn.Conv2d(child.in_channels, child.out_channels, 1, bias=child.bias is not None)
                plain.weight, plain.bias = child.weight, child.bias
                setattr(parent, name, plain)


def adaptable_layers(model: nn.Module) -> dict[str, list[nn.Module]]:
    """Layers LoRA can adapt, by their last name component: linear layers and plain 1x1 convolutions."""
    from torch import nn

    layers: dict[str, list[nn.Module]] = {}
    for name, layer in model.named_modules():
        if isinstance(layer, nn.Linear) or (type(layer) is nn.Conv2d and _is_pointwise(layer) and layer.groups == 1):
            layers.setdefault(name.rsplit(".", 1)[-1], []).append(layer)
    return layers


def layer_width(layer: nn.Module) -> int:
    """The rank limit of a layer: min(inputs, outputs)."""
    from torch import nn

    if isinstance(layer, nn.Linear):
        return min(layer.in_features, layer.out_features)
    return min(layer.in_channels, layer.out_channels)


def default_targets(model: nn.Module, modality: str) -> tuple[str, ...]:
    """query/value for BERT-like encoders, peft's table for other transformers, 1x1 convs for images."""
    if modality == "image":
        return DEFAULT_TARGETS["image"]
    model_type = getattr(getattr(model, "config", None), "model_type", "")
    if model_type in DEFAULT_TARGETS:
        return DEFAULT_TARGETS[model_type]
    from peft.utils import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

    return tuple(PEFT_TARGETS.get(model_type, DEFAULT_TARGETS["bert"]))


@register_strategy("lora")
class LoRA(FineTune):
    """LoRA adapters on ``target_modules`` (rank ``r``, scaling ``alpha / r``) + a linear head.

    ``target_modules=None`` means query and value projections for BERT-like encoders (as in the
    paper), peft's default for other transformer types, and the 1x1 expand / project
    convolutions for EfficientNet. The backbone's own weights never change.
    """

    def __init__(
        self,
        r: int = 8,
        alpha: float = 16.0,
        dropout: float = 0.1,
        target_modules: tuple[str, ...] | list[str] | None = None,
        lr: float = 5e-4,
        head_lr: float = 1e-3,
        epochs: int = 4,
        batch_size: int = 16,
        max_steps: int | None = 50,
        max_length: int = 128,
        warmup_ratio: float = 0.1,
        weight_decay: float = 0.01,
        validation_fraction: float = 0.2,
        patience: int = 2,
        random_state: int | None = None,
    ):
        self.r = r
        self.alpha = alpha
        self.dropout = dropout
        self.target_modules = target_modules
        super().__init__(
            lr, head_lr, epochs, batch_size, max_steps, max_length, warmup_ratio, weight_decay, 1.0,
            validation_fraction, patience, random_state,
        )  # fmt: skip

    def check(self, source: Any = None) -> None:
        super().check(source)
        check_positive(self.name, alpha=self.alpha)
        if not 0.0 <= self.dropout < 1.0:
            raise bad_parameter(self.name, "dropout", self.dropout, "in [0, 1)")
        probe = tuned_copy(source).model if source.modality == "image" else source.model
        if source.modality == "image":
            plain_pointwise_convs(probe)
        layers = adaptable_layers(probe)
        targets = self._targets(probe, source.modality)
        unknown = [t for t in targets if t not in layers]
        if unknown:
            allowed = ", ".join(sorted(layers))
            raise bad_parameter(
                self.name, "target_modules", unknown[0], f"one of the layers of {source.name}: {allowed}"
            )
        width = min(layer_width(layer) for t in targets for layer in layers[t])
        if isinstance(self.r, bool) or not isinstance(self.r, int) or not 1 <= self.r <= width:
            raise bad_parameter(self.name, "r", self.r, f"an integer in [1, {width}] (the narrowest targeted layer)")

    def _targets(self, model: nn.Module, modality: str) -> tuple[str, ...]:
        if self.target_modules is None:
            return default_targets(model, modality)
        return (self.target_modules,) if isinstance(self.target_modules, str) else tuple(self.target_modules)

    def _adapt(self, items: list, labels: np.ndarray, n_classes: int) -> None:
        from peft import LoraConfig, get_peft_model

        model = self.tuned_.model
        if self.tuned_.modality == "image":
            plain_pointwise_convs(model)
        config = LoraConfig(
            r=self.r,
            lora_alpha=self.alpha,
            lora_dropout=self.dropout,
            target_modules=list(self._targets(model, self.tuned_.modality)),
        )
        with quiet_peft():
            self.peft_model_ = get_peft_model(model, config)  # injects the adapters into ``model`` in place
        self.backbone_.module = self.peft_model_

    # ------------------------------------------------------------------ persistence

    def save(self, path: str | Path) -> Path:
        """Write the adapter (peft ``save_pretrained``), the head (safetensors) and the settings."""
        from safetensors.torch import save_file

        if not hasattr(self, "peft_model_"):
            raise InputError("lora: call fit() before save()")
        folder = Path(path).expanduser().resolve()
        folder.mkdir(parents=True, exist_ok=True)
        self.peft_model_.save_pretrained(str(folder / "adapter"))
        head = {"weight": self.head_.weight.detach().contiguous(), "bias": self.head_.bias.detach().contiguous()}
        save_file(head, str(folder / "head.safetensors"))
        settings = {
            "format": FORMAT_VERSION,
            "strategy": self.name,
            "params": {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params().items()},
            "random_state": self.random_state,
            "source": self.tuned_.name,
            "source_revision": self.tuned_.revision,
        }
        (folder / "lora.json").write_text(json.dumps(settings, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, path: str | Path, source: Any) -> LoRA:
        """A fitted :class:`LoRA` from :meth:`save`'s folder, on the same source weights."""
        import torch
        from peft import PeftModel
        from safetensors.torch import load_file
        from torch import nn

        folder = Path(path).expanduser().resolve()
        try:
            settings = json.loads((folder / "lora.json").read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError(f"{str(folder)!r} holds no saved LoRA model (lora.json is missing)") from None
        check_finetunable("lora", source)
        if settings["source_revision"] != source.revision:
            raise InputError(
                f"the LoRA model in {str(folder)!r} was trained on {settings['source']!r} revision"
                f" {settings['source_revision']}, got {source.name!r} revision {source.revision}"
            )
        strategy = cls(**settings["params"], random_state=settings["random_state"])
        strategy.tuned_ = tuned_copy(source)
        if source.modality == "image":
            plain_pointwise_convs(strategy.tuned_.model)
        with quiet_peft():
            strategy.peft_model_ = PeftModel.from_pretrained(strategy.tuned_.model, str(folder / "adapter")).eval()
        strategy.backbone_ = make_backbone(strategy.tuned_, strategy.max_length)
        strategy.backbone_.module = strategy.peft_model_
        head = load_file(str(folder / "head.safetensors"))
        strategy.head_ = nn.Linear(head["weight"].shape[1], head["weight"].shape[0])
        with torch.no_grad():
            strategy.head_.weight.copy_(head["weight"])
            strategy.head_.bias.copy_(head["bias"])
        return strategy
