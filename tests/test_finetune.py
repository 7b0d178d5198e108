"""The fine-tuning ladder: each strategy through the registry, LoRA persistence, penalties, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from transferlab.errors import InputError
from transferlab.sources import create_source
from transferlab.strategies import Examples, create_strategy
from transferlab.strategies.finetune import carve_validation
from transferlab.strategies.regularised import bss_penalty, l2_sp_penalty

CLASSES = ("business", "politics", "sports")
TEXTS = [
    "shares fell as the bank reported profits",
    "the company raised prices and sales grew",
    "the minister said the election bill passed",
    "parliament voted on the government's plan",
    "the striker scored twice in the cup final",
    "the team won the match after extra time",
]
TEST = ["profits and shares of the bank", "the vote in parliament", "goal in the final match"]
TINY = {"max_steps": 2, "max_length": 32}


@pytest.fixture(scope="module")
def minilm():
    return create_source("minilm-l6")


@pytest.fixture(scope="module")
def train() -> Examples:
    return Examples(TEXTS * 2, np.array([0, 0, 1, 1, 2, 2] * 2), CLASSES)


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("finetune", {"layer_decay": 0.8}),
        ("finetune-top-k", {"k": 1}),
        ("lp-ft", {}),
        ("lora", {"r": 4}),
        ("l2-sp", {}),
        ("bss", {}),
    ],
)
def test_strategy_fits_and_predicts(name, params, minilm, train):
    strategy = create_strategy(name, random_state=0, **TINY, **params).fit(train, source=minilm)
    proba = strategy.predict_proba(TEST)
    assert proba.shape == (3, 3) and np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1.0)
    n_trainable = strategy.trainable_parameters()
    head = 384 * 3 + 3
    assert head < n_trainable <= minilm.n_params() + head
    if name in ("finetune-top-k", "lora"):
        assert n_trainable < minilm.n_params() // 10
    if name == "l2-sp":  # two steps moved the weights away from the pretrained ones
        assert float(l2_sp_penalty(strategy.backbone_.module, strategy.reference_).detach()) > 0


def test_finetuning_leaves_the_source_unchanged(minilm, train):
    before = {k: v.clone() for k, v in minilm.model.state_dict().items()}
    strategy = create_strategy("finetune", random_state=0, **TINY).fit(train, source=minilm)
    assert all(torch.equal(before[k], v) for k, v in minilm.model.state_dict().items())
    tuned = strategy.encoder_after()
    assert tuned.revision != minilm.revision
    assert not np.allclose(tuned.embed(TEST), minilm.embed(TEST))


def test_same_seed_same_predictions(minilm, train):
    runs = [create_strategy("finetune-top-k", random_state=5, k=1, **TINY).fit(train, source=minilm) for _ in range(2)]
    assert np.array_equal(runs[0].predict_proba(TEST), runs[1].predict_proba(TEST))


def test_lora_save_and_reload_predict_exactly_the_same(minilm, train, tmp_path):
    from transferlab.strategies.lora import LoRA

    strategy = create_strategy("lora", random_state=0, r=4, **TINY).fit(train, source=minilm)
    before = strategy.predict_proba(TEST)
    folder = strategy.save(tmp_path / "lora")
    assert (folder / "head.safetensors").is_file() and (folder / "adapter" / "adapter_config.json").is_file()
    reloaded = LoRA.load(folder, minilm)
    assert np.array_equal(reloaded.predict_proba(TEST), before)
    assert reloaded.get_params() == strategy.get_params() | {"target_modules": None}


def test_image_finetuning_on_digits():
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.concatenate([np.flatnonzero(digits.target == d)[:4] for d in range(3)])
    source = create_source("efficientnet-lite0", image_size=32)
    train = Examples(digits.images[keep], digits.target[keep], ("0", "1", "2"))
    for name in ("finetune", "lora"):
        strategy = create_strategy(name, random_state=0, max_steps=2).fit(train, source=source)
        proba = strategy.predict_proba(digits.images[keep[:3]])
        assert proba.shape == (3, 3) and np.isfinite(proba).all()
        assert 0 < strategy.trainable_parameters() < source.n_params()  # the ImageNet classifier is not trained


def test_l2_sp_penalty_is_zero_at_the_pretrained_weights():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    reference = {n: p.detach().clone() for n, p in model.named_parameters()}
    assert float(l2_sp_penalty(model, reference)) == 0.0
    optimiser = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(5, 4)).pow(2).sum().backward()
    optimiser.step()
    expected = 0.5 * sum(float((p - reference[n]).pow(2).sum()) for n, p in model.named_parameters())
    assert float(l2_sp_penalty(model, reference)) == pytest.approx(expected) and expected > 0


def test_bss_penalty_on_a_known_matrix():
    features = torch.tensor([[3.0, 0, 0, 0], [0, 2.0, 0, 0], [0, 0, 1.0, 0]])  # singular values 3, 2, 1
    assert float(bss_penalty(features, k=1)) == pytest.approx(1.0)
    assert float(bss_penalty(features, k=2)) == pytest.approx(5.0)
    rotation, _ = torch.linalg.qr(torch.randn(4, 4, generator=torch.Generator().manual_seed(0)))
    assert float(bss_penalty(features @ rotation, k=2)) == pytest.approx(5.0, rel=1e-5)


def test_validation_part_is_stratified_and_only_when_large_enough():
    labels = np.repeat([0, 1], 10)
    fit_part, val_part = carve_validation(labels, 0.2, seed=0)
    assert val_part is not None and np.bincount(labels[val_part]).tolist() == [2, 2]
    assert set(fit_part).isdisjoint(val_part) and len(fit_part) + len(val_part) == 20
    everything, none = carve_validation(np.repeat([0, 1, 2], 4), 0.2, seed=0)  # 1 per class would go to validation
    assert none is None and len(everything) == 12


@pytest.mark.parametrize(
    ("name", "params", "match"),
    [
        ("lora", {"target_modules": ["q_proj"]}, r"lora: parameter 'target_modules' must be one of the layers .*query"),
        ("lora", {"r": 1000}, r"lora: parameter 'r' must be an integer in \[1, 384\]"),
        ("finetune", {"lr": 0.0}, r"finetune: parameter 'lr' must be a number > 0"),
        ("lora", {"lr": -1e-3}, r"lora: parameter 'lr' must be a number > 0"),
        ("finetune-top-k", {"k": 7}, r"parameter 'k' must be an integer in \[0, 6\]"),
        ("finetune", {"layer_decay": 1.5}, r"parameter 'layer_decay' must be in \(0, 1\]"),
    ],
)
def test_bad_parameters(name, params, match, minilm, train):
    with pytest.raises(InputError, match=match):
        create_strategy(name, **params).fit(train, source=minilm)


def test_frozen_source_is_rejected(train):
    identity = create_source("identity")
    with pytest.raises(InputError, match=r"l2-sp: source 'identity' cannot be fine-tuned .*minilm-l6.*hf:<folder>"):
        create_strategy("l2-sp").fit(train, source=identity)


@pytest.mark.parametrize(("source_name", "strategy"), [("minilm-l3", "lora"), ("hf", "finetune-top-k")])
def test_other_text_sources(source_name, strategy, train):
    from transferlab.sources.zoo_text import minilm_l6_path

    source = create_source(f"hf:{minilm_l6_path()}" if source_name == "hf" else source_name)
    params = {"k": 1} if strategy == "finetune-top-k" else {"r": 2}
    fitted = create_strategy(strategy, random_state=0, **TINY, **params).fit(train, source=source)
    assert fitted.predict_proba(TEST).shape == (3, 3)
    assert fitted.encoder_after().embed(TEST).shape == (3, 384)
