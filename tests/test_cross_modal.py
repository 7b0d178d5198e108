"""Cross-modal transfer: DeViSE and its random-text control, the frozen pretrained transformer on images,
the clip: source (on a small randomly initialised CLIP), the unseen-classes analysis, and bad input."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
import yaml
from sklearn.datasets import load_digits

from inprocess import cli
from tiny_models import tiny_clip
from transferlab.analysis.episodic import t_interval
from transferlab.analysis.zero_shot import split_scores
from transferlab.errors import InputError
from transferlab.sources import create_source
from transferlab.strategies import Examples, create_strategy
from transferlab.strategies.devise import class_name_embeddings, hinge_rank_loss, random_like
from transferlab.strategies.fpt import patchify
from transferlab.strategies.fpt_model import pretrained_encoder
from transferlab.study import parse_spec, run_study

WORDS = ("cat", "dog", "horse", "cow", "car", "truck", "bus", "bicycle", "apple", "pear", "banana", "orange")
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_NAMES = {str(i): w for i, w in enumerate(DIGIT_WORDS)}


def test_hinge_rank_loss_matches_the_sum_over_wrong_classes():
    rng = np.random.default_rng(0)
    projected, text = torch.tensor(rng.normal(size=(5, 4))), torch.tensor(rng.normal(size=(3, 4)))
    labels = torch.tensor([0, 2, 1, 1, 0])
    expected = np.mean(
        [
            sum(
                max(0.0, 0.1 - float(text[y] @ projected[i]) + float(text[j] @ projected[i]))
                for j in range(3)
                if j != y
            )
            for i, y in enumerate(labels.tolist())
        ]
    )
    assert float(hinge_rank_loss(projected, text, labels, 0.1)) == pytest.approx(expected)
    embeddings = rng.normal(size=(4, 6))
    control = random_like(embeddings, np.random.default_rng(1))
    assert control.shape == (4, 6) and np.allclose(np.linalg.norm(control, axis=1), np.linalg.norm(embeddings, axis=1))


def test_devise_reaches_unseen_classes_through_the_text_space_and_its_control_does_not():
    """Image features that are a hidden linear image of the class names' embeddings (plus noise): the
    map learned on 9 classes recovers it, so the 3 unseen ones (an animal, a vehicle, a fruit) are
    recognised; with the names replaced by random vectors nothing carries over (chance is 1/3)."""
    rng = np.random.default_rng(0)
    text = class_name_embeddings("minilm-l6", WORDS)  # (12, 384)
    hidden = rng.normal(size=(384, 64))
    y = np.repeat(np.arange(12), 20)
    X = text[y] @ hidden + 0.3 * rng.normal(size=(240, 64))  # (n, 64) "image features"
    unseen = np.array([3, 7, 11])
    train = ~np.isin(y, unseen)
    scores = {}
    for name in ("devise", "devise-random-text"):
        model = create_strategy(name, random_state=0).fit(Examples(X[train], y[train], WORDS))
        scores[name] = split_scores(model.predict_proba(X[~train]), y[~train], unseen)["unseen"]
    assert scores["devise"] > 0.8 and scores["devise-random-text"] < 0.6, scores


def test_split_scores_restrict_predictions_to_each_side():
    labels = np.array([0, 1, 2, 3])
    proba = np.array([[0.5, 0.1, 0.3, 0.1], [0.6, 0.3, 0.05, 0.05], [0.7, 0.0, 0.2, 0.1], [0.4, 0.0, 0.35, 0.25]])
    scores = split_scores(proba, labels, np.array([2, 3]))
    assert scores["seen"] == 0.5  # example 1 is called 0 among {0, 1}
    assert scores["unseen"] == 0.5  # among {2, 3}: example 2 -> 2 (right), example 3 -> 2 (wrong)
    assert scores["gzsl_unseen"] == 0.0 and scores["gzsl_seen"] == 0.5 and scores["gzsl_h"] == 0.0


def test_interval_over_class_splits_covers_the_mean_over_all_splits():
    """The t interval over 10 random splits of 10 classes, against the mean over all 210 splits of 4."""
    rng = np.random.default_rng(3)
    similarity = rng.uniform(size=(10, 10))
    splits = list(itertools.combinations(range(10), 4))
    # any fixed function of the split will do: here how distinct the unseen classes are from each other
    value = {s: 1.0 - similarity[np.ix_(s, s)].mean() + 0.1 * similarity[s[0], s[-1]] for s in splits}
    truth = np.mean(list(value.values()))
    covered = []
    for _ in range(2000):
        drawn = [splits[i] for i in rng.integers(0, len(splits), size=10)]
        interval = t_interval(np.array([value[s] for s in drawn]), 0.95)
        covered.append(interval.lo <= truth <= interval.hi)
    assert abs(np.mean(covered) - 0.95) < 3 * np.sqrt(0.95 * 0.05 / 2000), np.mean(covered)


def test_patchify_keeps_every_pixel_in_raster_order():
    images = np.arange(2 * 5 * 5 * 1, dtype=np.float32).reshape(2, 5, 5, 1)
    tokens = patchify(images, 2)  # 5 px padded to 6: 3 x 3 patches of 4 values
    assert tokens.shape == (2, 9, 4)
    assert tokens[0, 0].tolist() == [0, 1, 5, 6] and tokens[0, 1].tolist() == [2, 3, 7, 8]
    assert tokens[0, 2].tolist() == [4, 0, 9, 0]  # the right edge is zero-padded
    assert np.isclose(tokens.sum(), images.sum())


def test_fpt_trains_only_the_new_modality_s_parts_and_its_control_is_random():
    digits = load_digits()
    X, y = digits.images[:40].astype(np.float32), digits.target[:40]
    classes = tuple(str(i) for i in range(10))
    fitted = {}
    for name in ("fpt", "fpt-random"):
        model = create_strategy(name, random_state=0, max_steps=3, batch_size=8)
        fitted[name] = model.fit(Examples(X, y, classes))
        assert model.predict_proba(X[:5]).shape == (5, 10) and model.train_stats_["steps"] == 3
    pretrained = pretrained_encoder("minilm-l3").state_dict()  # the copy fpt loaded (once per process)
    key = "encoder.layer.0.attention.self.query.weight"
    after = {n: m.backbone_.module.encoder.state_dict()[key] for n, m in fitted.items()}
    assert torch.equal(after["fpt"], pretrained[key])  # frozen: still the language model's weights
    assert not torch.allclose(after["fpt-random"], pretrained[key])  # the control's blocks are random
    trained = {n for n, p in fitted["fpt"].backbone_.module.named_parameters() if p.requires_grad}
    assert trained and all("LayerNorm" in n or "position_embeddings" in n or n.startswith("project") for n in trained)
    assert fitted["fpt"].trainable_parameters() == fitted["fpt-random"].trainable_parameters()


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory) -> str:
    return str(tiny_clip(tmp_path_factory.mktemp("clip")))


def test_clip_source_embeds_images_and_class_names_into_one_space(clip_folder):
    source = create_source(f"clip:{clip_folder}")
    images = load_digits().images[:4].astype(np.float32)
    features = source.embed(images)
    assert source.modality == "image" and features.shape == (4, 16) == (4, source.dim)
    assert source.embed_text(["a photo of the digit zero", "one"]).shape == (2, 16)
    assert source.embed(images, layer="layer-1").shape == (4, 32) and source.revision
    zero_shot = create_strategy("zero-shot", template="a photo of the digit {label}")
    proba = zero_shot.fit(Examples(features, None, ("zero", "one", "two")), source=source).predict_proba(features)
    names = source.embed_text([f"a photo of the digit {w}" for w in ("zero", "one", "two")])
    cosine = (features / np.linalg.norm(features, axis=1, keepdims=True)) @ (
        names / np.linalg.norm(names, axis=1, keepdims=True)
    ).T
    assert np.array_equal(proba.argmax(axis=1), cosine.argmax(axis=1))
    twin = source.random_twin(1)
    assert twin.embed(images).shape == (4, 16) and not np.allclose(twin.embed(images), features)
    backbone = source.backbone()
    assert backbone.forward(backbone.prepare(images)[:2]).shape == (2, 16)


def test_clip_and_zero_shot_refusals(tmp_path, clip_folder):
    (tmp_path / "no-weights").mkdir()
    with pytest.raises(InputError, match=r"no \*.safetensors weights"):
        create_source(f"clip:{tmp_path / 'no-weights'}")
    with pytest.raises(InputError, match="zero-shot needs a source that embeds the class names as text;"):
        create_strategy("zero-shot").check(create_source("efficientnet-lite0"))
    with pytest.raises(InputError, match="devise maps image features into a text space; source 'minilm-l3'"):
        create_strategy("devise").check(create_source("minilm-l3"))
    with pytest.raises(InputError, match="class '0' has no name a text encoder can embed"):
        create_strategy("devise").check_classes(("0", "1"))
    with pytest.raises(InputError, match="class_names names class 'ten', which the task does not have"):
        create_strategy("devise", class_names={"ten": "ten"}).check_classes(("0", "1"))


def test_unseen_classes_study_reports_seen_and_unseen_accuracy(tmp_path):
    spec = {
        "name": "devise-digits",
        "task": {"dataset": "digits", "test_size": 0.3, "max_examples": 300},
        "sources": [{"name": "efficientnet-lite0", "image_size": 32}],
        "strategies": [{"name": "devise", "class_names": DIGIT_NAMES, "steps": 30}, "linear-probe"],
        "baselines": [{"name": "devise-random-text", "steps": 30}],
        "budgets": [4],
        "budget_unit": "per_class",
        "seeds": 3,
        "unseen_classes": 3,
    }
    run_study(parse_spec(spec), tmp_path, progress=False)
    summary = json.loads((tmp_path / "summary.json").read_text())
    block = summary["zero_shot"]
    assert len(block["unseen_by_seed"]) == 3 and all(len(v) == 3 for v in block["unseen_by_seed"].values())
    rows = {r["strategy_name"]: r for r in block["rows"]}
    assert rows["devise"]["n_splits"] == 3 and rows["devise"]["chance_unseen"] == pytest.approx(1 / 3)
    assert "devise-random-text(steps=30)" in rows["devise"]["unseen_vs"]
    # the budget held no unseen class: the probe gives them probability 0, so it never predicts one
    assert rows["linear-probe"]["gzsl_unseen"]["mean"] == 0.0
    assert rows["linear-probe"]["unseen"]["mean"] == pytest.approx(1 / 3, abs=0.05)
    assert "Classes never seen in training" in (tmp_path / "report.html").read_text()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (
            {"unseen_classes": ["5", "eleven"]},
            "unseen_classes: class 'eleven' does not exist; the task's classes: 0, 1",
        ),
        ({"strategies": ["devise"]}, "devise: class '0' has no name a text encoder can embed"),
        ({"task": {"dataset": "bbc-news"}, "sources": ["minilm-l3"]}, "fpt works on image tasks and the task is text"),
    ],
)
def test_cross_modal_bad_input_is_one_line_and_exit_2(tmp_path, changes, message):
    spec = {
        "name": "bad",
        "task": {"dataset": "digits"},
        "sources": ["efficientnet-lite0"],
        "strategies": ["fpt"],
        "budgets": [20],
        "seeds": 1,
    } | changes
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    proc = cli("run", str(tmp_path / "s.yaml"), "--out", str(out))
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert message in proc.stderr and not out.exists()
