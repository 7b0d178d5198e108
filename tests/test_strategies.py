"""One contract test over the whole strategy registry, plus each strategy's own behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from transferlab.errors import InputError
from transferlab.sources import create_source
from transferlab.strategies import Examples, create_strategy, list_strategies, strategy_class

CLASSES = ("business", "politics", "sports")
TEXTS = {
    0: ["shares fell as the bank reported profits", "the company raised prices and sales grew"],
    1: ["the minister said the election bill passed", "parliament voted on the government's plan"],
    2: ["the striker scored twice in the cup final", "the team won the match after extra time"],
}


@pytest.fixture(scope="module")
def minilm():
    return create_source("minilm-l6")


@pytest.fixture(scope="module")
def model_params(tmp_path_factory) -> dict[str, dict]:
    """Parameters a strategy cannot run without: in-context needs a causal LM, and none installs here,
    so it gets a small randomly initialised GPT-2 built from a config (tests/tiny_models.py)."""
    from tiny_models import tiny_gpt2

    return {"in-context": {"model": str(tiny_gpt2(tmp_path_factory.mktemp("gpt2"))), "k": 2}}


def _text_examples() -> tuple[Examples, list[str], np.ndarray]:
    texts = [t for c in range(3) for t in TEXTS[c] * 2]
    labels = np.repeat(np.arange(3), 4)
    test = ["profits and shares of the bank", "the vote in parliament", "goal in the final match"]
    return Examples(texts, labels, CLASSES), test, np.arange(3)


def _features_for(name: str, source, train: Examples, test: list[str]) -> tuple[Examples, object]:
    if strategy_class(name).input_kind == "raw":
        return train, test
    return Examples(source.embed(train.inputs), train.labels, train.classes), source.embed(test)


@pytest.mark.parametrize("name", list_strategies())
def test_strategy_contract(name, minilm, model_params):
    cls = strategy_class(name)
    flags = ("needs_labels", "trains_backbone", "uses_unlabeled_target", "needs_target_labels", "uses_source")
    for flag in (*flags, "is_baseline"):
        assert isinstance(getattr(cls, flag), bool)
    assert cls.input_kind in ("features", "raw") and cls.name == name
    if "text" not in cls.modalities:
        pytest.skip(f"{name} does not handle text; covered by test_feature_strategies")
    params = ({"max_steps": 2} if cls.trains_backbone else {}) | model_params.get(name, {})
    strategy = create_strategy(name, random_state=0, **params)
    assert "random_state" not in strategy.get_params()
    train, test, _ = _text_examples()
    train, test_inputs = _features_for(name, minilm, train, test)
    if cls.needs_target_labels:  # it trains on the labelled target rows of a domain study's training set
        train = Examples(train.inputs, train.labels, train.classes, np.full(len(train), "target"))
    # Adaptation methods get the unlabelled target pool (here the test texts, without labels).
    unlabeled = Examples(test_inputs, None, train.classes) if cls.uses_unlabeled_target else None
    proba = strategy.fit(train, unlabeled=unlabeled, source=minilm).predict_proba(test_inputs)
    assert proba.shape == (3, 3) and np.isfinite(proba).all()
    assert np.allclose(proba.sum(axis=1), 1.0) and (proba >= 0).all()
    assert np.allclose(strategy.predict_proba_source(test_inputs).sum(axis=1), 1.0)


@pytest.mark.parametrize("name", ["linear-probe", "knn", "prototype", "tfidf-logreg", "zero-shot"])
def test_transfer_strategies_get_the_easy_cases_right(name, minilm):
    train, test, truth = _text_examples()
    train, test_inputs = _features_for(name, minilm, train, test)
    params = {"k": 3} if name == "knn" else {}  # 12 training texts: the default k=10 would vote by class size
    proba = create_strategy(name, random_state=0, **params).fit(train, source=minilm).predict_proba(test_inputs)
    if name == "tfidf-logreg":  # shares few words with the test sentences: only check it runs
        assert proba.shape == (3, 3)
    else:
        assert (proba.argmax(axis=1) == truth).all()


def test_same_seed_same_result(minilm):
    train, test, _ = _text_examples()
    runs = [create_strategy("scratch", random_state=3, max_steps=2).fit(train, source=minilm) for _ in range(2)]
    assert np.array_equal(runs[0].predict_proba(test), runs[1].predict_proba(test))


@pytest.mark.parametrize("name", ["linear-probe", "knn", "prototype", "raw-logreg"])
def test_feature_strategies(name):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 20)
    X = rng.normal(0.0, 1.0, (60, 5))
    X[np.arange(60), y] += 5.0  # each class points along its own axis (kNN and prototype use cosine)
    proba = create_strategy(name, random_state=0).fit(Examples(X, y, ("a", "b", "c"))).predict_proba(X)
    assert (proba.argmax(axis=1) == y).mean() > 0.9


def test_unknown_strategy_and_bad_parameters():
    with pytest.raises(InputError, match="unknown strategy 'lora-xl'; known strategies: .*linear-probe"):
        create_strategy("lora-xl")
    with pytest.raises(InputError, match="strategy 'knn' has no parameter 'kk'"):
        create_strategy("knn", kk=3)
    X, y = np.eye(4), np.array([0, 1, 0, 1])
    with pytest.raises(InputError, match=r"parameter 'k' must be an integer in \[1, "):
        create_strategy("knn", k=0).fit(Examples(X, y, ("a", "b")))
    with pytest.raises(InputError, match="parameter 'lr' must be a number > 0"):
        create_strategy("scratch", lr=-1.0).fit(Examples(["a", "b"], np.array([0, 1]), ("a", "b")))


def test_knn_probabilities_are_never_zero():
    X, y = np.eye(6), np.array([0, 0, 0, 1, 1, 1])
    proba = create_strategy("knn", k=3).fit(Examples(X, y, ("a", "b"))).predict_proba(X)
    assert proba.min() > 0
