"""The faster paths give the numbers the plain ones gave: transferability scores and their
bootstrap replicates (pinned from the code before the change), the Ledoit-Wolf and PCA shortcuts
against scikit-learn, the parallel bootstrap against the sequential one, and the onnxruntime
engine against torch."""

from __future__ import annotations

import numpy as np
import pytest

from transferlab.errors import InputError
from transferlab.metrics.base import get_metric
from transferlab.metrics.pca import components_for_variance, principal_components
from transferlab.metrics.separability import ledoit_wolf
from transferlab.metrics.transfer_inputs import canonical_order
from transferlab.metrics.uncertainty import bootstrap_scores, stratified_bootstrap

# Point score and 3 bootstrap replicates (random_state=5) of each default feature score, computed
# by the code before the speed-ups (scikit-learn's PCA, LedoitWolf, cross_val_score).
PINNED = {
    150: {
        "gbc": (-2.3538013517029333, [-1.3062240508695555, -1.4318776401255078, -1.4216685865598557]),
        "hscore": (0.9387946831892258, [1.3120639611316853, 1.3100858840979897, 1.3743908140073144]),
        "knn-loo": (0.5866666666666667, [0.6533333333333333, 0.5666666666666667, 0.7466666666666667]),
        "linear-cv": (0.9, [0.9466666666666669, 0.9400000000000001, 0.9733333333333334]),
        "logme": (-0.6460852619719741, [0.8097334498440136, -0.3307475929947761, 0.6150658468761162]),
        "nleep": (-1.0072585607931384, [-0.809535307660006, -0.7939287175481674, -0.6279645825637236]),
        "transrate": (173.91441628608226, [218.21386939782792, 220.66688928892918, 219.5985842014417]),
    },
    60: {
        "gbc": (-1.1793446691195282, [-0.7648304660817336, -1.0046288935177796, -0.7506123620911977]),
        "hscore": (0.8032522676249244, [1.5539955986253116, 1.5055132007607537, 1.5954384239952977]),
        "knn-loo": (0.55, [0.5166666666666667, 0.5166666666666667, 0.6]),
        "linear-cv": (0.8833333333333334, [0.8666666666666666, 0.8666666666666668, 0.8666666666666666]),
        "logme": (-0.7656863241201013, [3.144179360803588, 3.450477188217978, 4.0487910994288105]),
        "nleep": (-0.8133564676863435, [-0.4719508671966782, -0.5886235001615194, -0.4150165147227948]),
        "transrate": (169.08316303293435, [121.20553897628068, 119.16415550666433, 111.05522485064878]),
    },
}


def pinned_task(n: int, d: int = 96, n_classes: int = 3, seed: int = 7) -> tuple[np.ndarray, np.ndarray]:
    """Weakly separated classes with unequal feature scales (n = 150 > d, and n = 60 < d)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % n_classes
    X = 0.25 * rng.normal(size=(n_classes, d))[labels] + rng.normal(size=(n, d)) * np.linspace(0.2, 2.0, d)
    return X.astype(np.float32), labels


@pytest.mark.parametrize("n", sorted(PINNED))
@pytest.mark.parametrize("name", sorted(PINNED[150]))
def test_scores_and_replicates_are_the_pinned_ones(name, n):
    X, y = pinned_task(n)
    value, replicates = PINNED[n][name]
    assert get_metric(name)(X, y) == pytest.approx(value, rel=1e-9, abs=1e-9)
    found = bootstrap_scores(name, {"s": X}, y, n_boot=3, random_state=5)["s"]
    np.testing.assert_allclose(found, replicates, rtol=1e-9, atol=1e-9)


def test_ledoit_wolf_matches_scikit_learn():
    from sklearn.covariance import LedoitWolf

    X, _ = pinned_task(150)
    X = X.astype(np.float64) - X.mean(axis=0)
    covariance, shrinkage = ledoit_wolf(X)
    reference = LedoitWolf(assume_centered=True).fit(X)
    assert shrinkage == pytest.approx(reference.shrinkage_, rel=1e-12)
    np.testing.assert_allclose(covariance, reference.covariance_, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("n", [150, 60])
def test_principal_components_match_scikit_learn_up_to_signs(n):
    from sklearn.decomposition import PCA

    X = pinned_task(n)[0].astype(np.float64)
    ours, reference = principal_components(X, 20), PCA(20, svd_solver="full").fit_transform(X)
    signs = np.sign(np.sum(ours * reference, axis=0))  # each column agrees up to a sign
    np.testing.assert_allclose(ours * signs, reference, atol=1e-9)
    kept = components_for_variance(X, 0.8)
    assert kept.shape[1] == PCA(0.8, svd_solver="full").fit(X).n_components_


def test_canonical_order_shortcut_is_the_full_lexicographic_sort():
    X, y = pinned_task(60)
    for idx in stratified_bootstrap(y, 4, random_state=1):  # resamples: ties are copies
        full = np.lexsort((y[idx], *X[idx].T[::-1]))
        np.testing.assert_array_equal(canonical_order(X[idx], y[idx]), full)
    tied = X.copy()
    tied[:10, 0] = 0.0  # unequal rows tied on column 0: the full sort decides
    np.testing.assert_array_equal(canonical_order(tied, y), np.lexsort((y, *tied.T[::-1])))


def test_parallel_bootstrap_gives_the_sequential_numbers():
    from transferlab.ranking.scoring import score_pairs

    X, y = pinned_task(60)
    tasks = [(get_metric(name), X * scale, f"s{scale}") for name in ("logme", "nleep") for scale in (1, 2)]
    sequential = score_pairs(tasks, y, 3, 0, n_jobs=1)
    parallel = score_pairs(tasks, y, 3, 0, n_jobs=2)
    for (value, reps, note, _), (value2, reps2, note2, _) in zip(sequential, parallel, strict=True):
        assert value == value2 and note is None and note2 is None
        np.testing.assert_array_equal(reps, reps2)


# ---------------------------------------------------------------- the onnxruntime engine


@pytest.fixture(scope="module")
def l3_engines():
    pytest.importorskip("onnxruntime")
    from transferlab.sources import create_source

    kinds = ((("engine", "torch"),), (("engine", "onnx"),), (("precision", "int8"),))
    return {kw: create_source("minilm-l3", **dict(kw)) for kw in kinds}


TEXTS = ["Hi.", "The bank raised interest rates again.", "Shares fell sharply on Monday after a profit warning " * 4]


def test_onnx_engine_equals_torch_on_every_layer(l3_engines):
    torch_source, onnx_source = l3_engines[(("engine", "torch"),)], l3_engines[(("engine", "onnx"),)]
    assert onnx_source.engine == "onnx" and torch_source.engine == "torch"
    names = onnx_source.layers()
    ours, reference = onnx_source.embed_layers(TEXTS, names), torch_source.embed_layers(TEXTS, names)
    for layer_ours, layer_reference in zip(ours, reference, strict=True):
        np.testing.assert_allclose(layer_ours, layer_reference, atol=1e-5)
    np.testing.assert_allclose(onnx_source.embed(TEXTS), torch_source.embed(TEXTS), atol=1e-5)
    np.testing.assert_array_equal(onnx_source.embed(TEXTS, "layer-1"), onnx_source.embed_layers(TEXTS, ["layer-1"])[0])


def test_engine_and_precision_enter_the_cache_key(l3_engines):
    keys = {source.preprocessing for source in l3_engines.values()}
    assert keys == {
        "mean-pool;max_length=128;fp32",
        "mean-pool;max_length=128;fp32;onnx",
        "mean-pool;max_length=128;int8;onnx",
    }


def test_int8_is_close_to_fp32_but_not_equal(l3_engines):
    fp32, int8 = l3_engines[(("engine", "torch"),)].embed(TEXTS), l3_engines[(("precision", "int8"),)].embed(TEXTS)
    cosine = np.sum(fp32 * int8, 1) / (np.linalg.norm(fp32, axis=1) * np.linalg.norm(int8, axis=1))
    assert int8.dtype == np.float32 and int8.shape == fp32.shape
    assert cosine.min() > 0.95 and np.abs(fp32 - int8).max() > 1e-4


def test_onnx_engine_follows_weights_changed_in_place(l3_engines):
    import copy

    import torch

    source = copy.copy(l3_engines[(("engine", "onnx"),)])
    source.model = copy.deepcopy(source.model)  # as a fine-tuning strategy's copy
    before = source.embed(TEXTS[:2])
    with torch.no_grad():
        source.model.encoder.layer[2].output.dense.weight.mul_(0.5)  # an optimiser step, in place
    after = source.embed(TEXTS[:2])
    expected = l3_engines[(("engine", "torch"),)]
    torch_after = type(expected)(source.model, expected.tokenizer, "x", "r", 128, engine="torch").embed(TEXTS[:2])
    assert np.abs(after - before).max() > 1e-3  # not the stale graph of the old weights
    np.testing.assert_allclose(after, torch_after, atol=1e-5)


def test_engine_and_precision_errors_are_one_line(monkeypatch):
    from transferlab.sources import precision

    with pytest.raises(InputError, match="precision 'int8' runs on engine 'onnx'"):
        precision.resolve_engine("m", "int8", "torch")
    with pytest.raises(InputError, match="parameter 'engine' must be one of"):
        precision.resolve_engine("m", "fp32", "tensorrt")
    with pytest.raises(InputError, match="parameter 'precision' must be one of"):
        precision.resolve_engine("m", "fp16", None)
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "fma"})
    with pytest.raises(InputError, match="needs a CPU with native bf16.*use precision 'int8'"):
        precision.resolve_engine("m", "bf16", None)
    from transferlab.sources import create_source

    with pytest.raises(InputError, match="minilm-l3: precision 'bf16' needs a CPU with native bf16"):
        create_source("minilm-l3", precision="bf16")  # what a study's pre-flight check meets
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "avx512_bf16"})
    assert precision.resolve_engine("m", "bf16", None) == "torch"
    assert precision.with_default_engine({"precision": "bf16"}, "onnx") == {"precision": "bf16"}
    assert precision.with_default_engine({}, "onnx") == {"engine": "onnx"}


def test_the_default_fp32_engine_is_the_one_measured_faster_on_this_kind_of_cpu(monkeypatch):
    from transferlab.sources import create_source, precision

    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2", "avx512f"})
    assert precision.faster_fp32_engine() == "torch"
    assert create_source("minilm-l3").engine == "torch"
    monkeypatch.setattr(precision, "cpu_flags", lambda: {"avx2"})
    assert precision.faster_fp32_engine() == "onnx"
    assert create_source("minilm-l3").engine == "onnx"
