"""EfficientNet-Lite image sources on sklearn's digits (8x8 grey, values 0..16)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("efficientnet_lite_pytorch")

from sklearn.datasets import load_digits  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402

from transferlab.errors import InputError  # noqa: E402
from transferlab.sources import create_source  # noqa: E402
from transferlab.sources.vision import as_images, fold_batchnorm, pixel_range, scale_to_unit  # noqa: E402
from transferlab.sources.zoo_text import INFO  # noqa: E402


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    return data.images, data.target


@pytest.fixture(scope="module")
def lite0():
    return create_source("efficientnet-lite0")


def test_embed_shape_and_dtype(lite0, digits):
    features = lite0.embed(digits[0][:20])
    assert features.shape == (20, 1280)
    assert features.dtype == np.float32
    assert np.isfinite(features).all()
    assert features.std(0).max() > 0


@pytest.mark.parametrize("layer", ["stem", "block-0", "block-8", "head", "last"])
def test_layers(lite0, digits, layer):
    features = lite0.embed(digits[0][:6], layer=layer)
    assert features.shape[0] == 6
    assert np.isfinite(features).all()
    if layer in ("head", "last"):
        np.testing.assert_allclose(features, lite0.embed(digits[0][:6]), atol=1e-5)


def test_layer_names(lite0):
    names = lite0.layers()
    assert names[0] == "stem" and names[-1] == "head"
    assert names[1:-1] == [f"block-{i}" for i in range(16)]
    with pytest.raises(InputError, match="parameter 'layer'"):
        lite0.embed(np.zeros((2, 8, 8)), layer="block-99")


def test_folded_inference_matches_module(lite0, digits):
    x = lite0.preprocess(digits[0][:4])
    with torch.inference_mode():
        reference = lite0.model.extract_features(x).mean((2, 3)).numpy()
    np.testing.assert_allclose(lite0.embed(digits[0][:4]), reference, atol=1e-4, rtol=1e-4)


def test_classify_is_a_distribution(lite0, digits):
    probs = lite0.classify(digits[0][:10])
    assert probs.shape == (10, 1000)
    assert (probs >= 0).all()
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)


def test_random_twin_differs(lite0, digits):
    twin = lite0.random_twin(seed=0)
    assert twin.revision != lite0.revision
    assert twin.n_params() == lite0.n_params()
    assert not np.allclose(twin.embed(digits[0][:4]), lite0.embed(digits[0][:4]), atol=1e-3)


def test_backbone_is_trainable(lite0, digits):
    backbone = lite0.random_twin(seed=1).backbone()
    items = backbone.prepare(digits[0][:4])
    assert len(items) == 4 and items[0].shape == (3, 112, 112)
    features = backbone.forward(items)
    assert features.shape == (4, backbone.dim) == (4, 1280)
    features.sum().backward()
    assert backbone.module._conv_stem.weight.grad is not None


def test_linear_probe_beats_chance(lite0, digits):
    images, labels = digits[0][:300], digits[1][:300]
    features = lite0.embed(images)
    probe = LogisticRegression(max_iter=2000).fit(features[:200], labels[:200])
    accuracy = probe.score(features[200:], labels[200:])
    assert accuracy > 0.5  # chance is 0.1


def test_input_scales_agree(lite0, digits):
    grey = digits[0][:4]  # 0..16: min-max rescaled
    unit = grey / 16.0
    as_uint8 = np.round(unit * 255).astype(np.uint8)
    rgb = np.repeat(unit[..., None], 3, axis=-1)
    base = lite0.embed(unit)
    np.testing.assert_allclose(lite0.embed(grey), base, atol=1e-4)
    np.testing.assert_allclose(lite0.embed(rgb), base, atol=1e-4)
    np.testing.assert_allclose(lite0.embed(as_uint8), base, atol=0.05)


@pytest.mark.parametrize("name", ["efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"])
def test_registered_sources(name, digits):
    source = create_source(name, image_size=64)
    assert source.modality == "image" and source.trainable and source.has_classifier
    assert source.n_params() == INFO[name].n_params
    assert source.embed(digits[0][:3]).shape == (3, INFO[name].dim)
    assert "bilinear=64" in source.preprocessing


def test_scale_to_unit():
    np.testing.assert_allclose(scale_to_unit(np.array([[0, 255]], dtype=np.uint8)), [[0.0, 1.0]])
    np.testing.assert_allclose(scale_to_unit(np.array([[0.2, 0.4]])), [[0.2, 0.4]])
    np.testing.assert_allclose(scale_to_unit(np.array([[0.0, 8.0, 16.0]])), [[0.0, 0.5, 1.0]])
    assert scale_to_unit(np.full((1, 2, 2, 1), 5.0)).max() == 0.0
    np.testing.assert_allclose(scale_to_unit(np.array([[4.0]]), value_range=(0.0, 16.0)), [[0.25]])


def test_pixel_range(digits):
    assert pixel_range(digits[0]) == (0.0, 16.0)
    assert pixel_range(np.zeros((1, 2, 2), dtype=np.uint8)) == (0.0, 255.0)
    assert pixel_range(np.full((1, 2, 2), 0.5)) == (0.0, 1.0)


@pytest.mark.parametrize(
    ("images", "match"),
    [(np.zeros((2, 8, 8, 2)), "shape"), (np.zeros(5), "shape"), (np.full((1, 4, 4), np.nan), "non-finite")],
)
def test_bad_images(images, match):
    with pytest.raises(InputError, match=match):
        as_images(images)


def test_fold_batchnorm():
    torch.manual_seed(0)
    conv, bn = torch.nn.Conv2d(3, 5, 3, bias=False), torch.nn.BatchNorm2d(5).eval()
    bn.running_mean.uniform_(-1, 1)
    bn.running_var.uniform_(0.5, 2)
    bn.weight.data.uniform_(0.5, 2)
    bn.bias.data.uniform_(-1, 1)
    x = torch.randn(2, 3, 7, 7)
    with torch.no_grad():
        expected = bn(conv(x))
        fold_batchnorm(conv, bn)
        np.testing.assert_allclose(conv(x).numpy(), expected.numpy(), atol=1e-5)
