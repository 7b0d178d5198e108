"""Deep domain adaptation: the losses without a model, then DANN / DAN / Deep CORAL / AdaBN end to end.

The end-to-end runs use the real small sources (minilm-l3 for text, efficientnet-lite0 at 32 px
for images) on a handful of inputs and a couple of steps: they check the plumbing (the target
stream, the health record, BatchNorm statistics per domain), not accuracy.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from transferlab.errors import InputError
from transferlab.sources import create_source
from transferlab.strategies import Examples, create_strategy
from transferlab.strategies.da_losses import coral_loss, dann_lambda, domain_health, gradient_reversal, mmd_loss
from transferlab.strategies.da_train import health_flags, run_stats

CLASSES = ("business", "politics")
SOURCE_TEXTS = [
    "shares fell as the bank reported profits",
    "the company raised prices and sales grew",
    "the minister said the election bill passed",
    "parliament voted on the government's plan",
] * 2
SOURCE_LABELS = np.array([0, 0, 1, 1] * 2)
TARGET_TEXTS = ["stock markets rallied on earnings", "the senate debated the law", "profits rose", "voters went out"]


# ---------------------------------------------------------------- losses, no model


def test_gradient_reversal_is_identity_forward_and_minus_lambda_backward():
    x = torch.randn(5, 3, requires_grad=True)
    upstream = torch.randn(5, 3)
    y = gradient_reversal(x, 0.3)
    assert torch.equal(y, x)
    (y * upstream).sum().backward()
    assert torch.allclose(x.grad, -0.3 * upstream)


def test_dann_schedule_rises_from_zero_to_one():
    values = [dann_lambda(p) for p in np.linspace(0, 1, 11)]
    assert values[0] == 0.0 and values[-1] == pytest.approx(1.0, abs=1e-4)
    assert all(b > a for a, b in zip(values, values[1:], strict=False))
    assert dann_lambda(0.5) == pytest.approx(2 / (1 + np.exp(-5)) - 1)


def test_mmd_is_zero_on_identical_batches_and_grows_with_the_shift():
    torch.manual_seed(0)
    x = torch.randn(32, 8)
    assert float(mmd_loss(x, x.clone())) == pytest.approx(0.0, abs=1e-6)
    small, large = float(mmd_loss(x, torch.randn(32, 8) + 0.5)), float(mmd_loss(x, torch.randn(32, 8) + 3.0))
    assert 0 < small < large


def test_coral_loss_sees_covariances_not_means():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    assert float(coral_loss(x, x + 10.0)) == pytest.approx(0.0, abs=1e-6)
    assert float(coral_loss(x, x * torch.tensor([1.0, 3.0, 1.0, 1.0]))) > 0.05


def _record(accuracy: list[float], share: list[float], per_step: int = 32, steps: int = 40):
    """A domain classifier's record: per step (right, made) and how many were predicted as target."""
    acc = np.repeat(accuracy, steps // len(accuracy))
    shares = np.repeat(share, steps // len(share))
    return np.stack([np.round(acc * per_step), np.full(steps, per_step)], axis=1), np.round(shares * per_step)


def test_domain_health_flags_a_collapsed_domain_classifier():
    healthy = domain_health(*_record([0.8, 0.7, 0.6, 0.55], [0.5, 0.5, 0.5, 0.5]))
    stuck = domain_health(*_record([0.8, 0.7, 0.5, 0.5], [0.5, 0.5, 1.0, 1.0]))
    at_chance = domain_health(*_record([0.5, 0.52, 0.48, 0.5], [0.5, 0.5, 0.5, 0.5]))
    too_short = domain_health(*_record([0.5, 0.5], [1.0, 1.0], per_step=8, steps=2))
    assert not healthy["collapsed"] and healthy["domain_accuracy"][0] == pytest.approx(0.8125)
    assert stuck["collapsed"] and stuck["stuck_at_one_domain"]
    assert at_chance["collapsed"] and at_chance["at_chance_throughout"]
    assert not too_short["collapsed"]


def test_run_stats_trace_the_task_loss_like_the_ladder_and_flag_a_collapse():
    falling = np.column_stack([np.linspace(1.0, 0.2, 20), np.full(20, 0.7)])
    stats = run_stats(falling, False, {"collapsed": False})
    assert stats["first_loss"] == pytest.approx(0.979, abs=1e-3) and stats["final_loss"] == pytest.approx(
        0.221, abs=1e-3
    )
    assert stats["nan_loss"] == 0.0 and stats["final_alignment_loss"] == pytest.approx(0.7)
    assert health_flags(stats) == [] and health_flags({"collapsed": True}) == ["domain-collapse"]
    first_step_nan = run_stats(np.zeros((0, 2)), True, {})
    assert first_step_nan["nan_loss"] == 1.0 and first_step_nan["steps"] == 0


# ---------------------------------------------------------------- end to end on real small sources


@pytest.fixture(scope="module")
def minilm_l3():
    return create_source("minilm-l3")


@pytest.mark.parametrize("name", ["dann", "dan", "deep-coral"])
def test_deep_methods_run_end_to_end_on_a_text_source(name, minilm_l3):
    before = {k: v.clone() for k, v in minilm_l3.model.state_dict().items()}
    strategy = create_strategy(name, random_state=0, max_steps=2, batch_size=4, validation_fraction=0.0)
    train, target = Examples(SOURCE_TEXTS, SOURCE_LABELS, CLASSES), Examples(TARGET_TEXTS, None, CLASSES)
    strategy.fit(train, unlabeled=target, source=minilm_l3)
    proba = strategy.predict_proba(TARGET_TEXTS)
    assert proba.shape == (4, 2) and np.allclose(proba.sum(axis=1), 1.0)
    stats = strategy.train_stats_
    assert stats["steps"] == 2 and np.isfinite(stats["final_alignment_loss"]) and stats["nan_loss"] == 0.0
    assert strategy.health_ == []  # two steps are too few to judge a domain classifier
    if name == "dann":
        assert len(stats["domain_accuracy"]) == 2 and "collapsed" in stats
    # the source is shared with other cells: its weights must not move
    assert all(torch.equal(before[k], v) for k, v in minilm_l3.model.state_dict().items())


def test_deep_methods_need_the_target_pool_and_a_trainable_source(minilm_l3):
    train = Examples(SOURCE_TEXTS, SOURCE_LABELS, CLASSES)
    with pytest.raises(InputError, match="dann adapts to a target domain and needs its unlabelled inputs"):
        create_strategy("dann", max_steps=1).fit(train, source=minilm_l3)
    with pytest.raises(InputError, match="dan: source 'identity' cannot be fine-tuned"):
        create_strategy("dan").check(create_source("identity"))
    with pytest.raises(InputError, match="parameter 'trade_off' must be a number > 0"):
        create_strategy("deep-coral", trade_off=-1).check(minilm_l3)


def _digits(n_per_class: int = 4):
    from sklearn.datasets import load_digits

    digits = load_digits()
    index = np.concatenate([np.flatnonzero(digits.target == c)[:n_per_class] for c in range(2)])
    return digits.images[index].astype(np.float32), digits.target[index]


def test_adabn_normalises_each_domain_with_its_own_statistics():
    from transferlab.strategies.adabn import batchnorm_layers

    source = create_source("efficientnet-lite0", image_size=32)
    images, labels = _digits()
    rotated = np.ascontiguousarray(np.rot90(images, 1, axes=(1, 2)) * 0.5)  # the target: rotated and dimmer
    adabn = create_strategy("adabn", random_state=0, max_steps=2, batch_size=4, validation_fraction=0.0)
    adabn.fit(Examples(images, labels, ("0", "1")), unlabeled=Examples(rotated, None, ("0", "1")), source=source)
    first_layer = batchnorm_layers(adabn.finetune_.backbone_.module)[0]
    assert torch.equal(first_layer.running_mean, adabn.target_statistics_[0][0])
    assert not torch.allclose(adabn.source_statistics_[0][0], adabn.target_statistics_[0][0])
    as_source = adabn.predict_proba_source(rotated)
    as_target = adabn.predict_proba(rotated)
    assert not np.allclose(as_source, as_target) and np.allclose(as_target.sum(axis=1), 1.0)
    assert torch.equal(first_layer.running_mean, adabn.target_statistics_[0][0])  # restored after the swap
    assert not torch.equal(batchnorm_layers(source.model)[0].running_mean, first_layer.running_mean)


def test_adabn_rejects_a_source_without_batch_norm(minilm_l3):
    with pytest.raises(InputError, match="adabn: source 'minilm-l3' has no BatchNorm layers"):
        create_strategy("adabn").check(minilm_l3)
    with pytest.raises(InputError, match="adabn: source 'identity' cannot be fine-tuned"):
        create_strategy("adabn").check(create_source("identity"))
    with pytest.raises(InputError, match="adabn: parameter 'lr' must be a number > 0"):
        create_strategy("adabn", lr=0).check(minilm_l3)
