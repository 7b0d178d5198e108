"""Ranking sources and layers: the public function, the CLI, and validation against a real study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from inprocess import cli
from transferlab.data import TaskData, fingerprint_of, load_task, subsample
from transferlab.errors import InputError
from transferlab.metrics.transferability import knn_loo, logme
from transferlab.ranking import rank_sources, study_outcomes, validate_ranking
from transferlab.sources import create_source
from transferlab.sources.cache import EmbeddingCache
from transferlab.study import parse_spec, run_study

SCORES = ["logme", "hscore", "knn-loo"]


def short_texts(task: TaskData, chars: int = 400) -> TaskData:
    """The same examples with each text cut to ``chars`` characters (and its own fingerprint)."""
    texts = [t[:chars] for t in task.inputs]
    return TaskData(task.name, texts, task.labels, task.classes, "text", fingerprint_of(texts, task.labels, "short"))


@pytest.fixture(scope="module")
def bbc_small() -> TaskData:
    """60 BBC articles (12 per topic), cut to 400 characters."""
    return short_texts(subsample(load_task("bbc-news"), 60, seed=0))


@pytest.fixture(scope="module")
def ranked(bbc_small):
    return rank_sources(bbc_small, ["minilm-l6", "minilm-l3"], SCORES, n_boot=5)


def test_rank_two_sources(ranked, bbc_small):
    assert [r.rank for r in ranked.rows] == [1, 2]
    assert {r.candidate for r in ranked.rows} == {"minilm-l6", "minilm-l3"}
    assert ranked.consensus_metrics == SCORES
    assert (ranked.n_examples, ranked.n_classes) == (60, 5)
    assert ranked.rows[0].mean_rank <= ranked.rows[1].mean_rank
    assert sum(r.p_best for r in ranked.rows) == pytest.approx(1.0)
    for metric in SCORES:
        assert sum(r.prob_best[metric] for r in ranked.rows) == pytest.approx(1.0)
    for r in ranked.rows:
        assert r.dim == 384 and r.layer == "last"
        assert all(r.std[m] is not None and r.std[m] >= 0 for m in SCORES)
        assert r.embed_seconds >= 0 and r.score_seconds > 0


def test_scores_are_the_metric_functions_on_cached_features(ranked, bbc_small):
    features = EmbeddingCache().get(create_source("minilm-l3"), bbc_small)
    row = next(r for r in ranked.rows if r.candidate == "minilm-l3")
    assert row.scores["logme"] == pytest.approx(logme(features, bbc_small.labels), rel=1e-12)
    assert row.scores["knn-loo"] == pytest.approx(knn_loo(features, bbc_small.labels), rel=1e-12)


def test_consensus_is_the_mean_rank(ranked):
    def rank(values: list[float], x: float) -> float:  # 1 = best, ties share the mean of their ranks
        return 1 + sum(v > x for v in values) + (sum(v == x for v in values) - 1) / 2

    by_metric = {m: list(ranked.scores(m).values()) for m in SCORES}
    for r in ranked.rows:
        ranks = [rank(by_metric[m], r.scores[m]) for m in SCORES]
        assert r.mean_rank == pytest.approx(np.mean(ranks))


def test_to_frame_and_json(ranked):
    frame = ranked.to_frame()
    assert list(frame["candidate"]) == [r.candidate for r in ranked.rows]
    assert {"logme", "logme_std", "p_best_logme", "mean_rank", "p_best", "embed_seconds"} <= set(frame.columns)
    data = json.loads(ranked.to_json())
    assert data["metrics"] == SCORES and len(data["rows"]) == 2
    assert data["rows"][0]["scores"]["logme"] == ranked.rows[0].scores["logme"]


def test_rank_layers_of_one_source(bbc_small):
    source = create_source("minilm-l6")
    result = rank_sources(bbc_small, {"minilm-l6": source}, ["logme", "knn-loo"], layers="all", n_boot=0)
    labels = {r.candidate for r in result.rows}
    assert labels == {f"minilm-l6@layer-{i}" for i in range(6)} | {"minilm-l6"}
    assert all(r.std["logme"] is None and r.p_best is None for r in result.rows)
    # the one-pass layer embeddings are the ones the source gives layer by layer
    cache = EmbeddingCache()
    layer2 = next(r for r in result.rows if r.layer == "layer-2")
    assert layer2.scores["logme"] == pytest.approx(logme(source.embed(bbc_small.inputs, "layer-2"), bbc_small.labels))
    assert np.array_equal(cache.get(source, bbc_small, "layer-2"), source.embed(bbc_small.inputs, "layer-2"))
    last = next(r for r in result.rows if r.candidate == "minilm-l6")
    assert last.layer == "layer-6"


def test_leep_only_for_the_whole_classifier_network():
    digits = subsample(load_task("digits"), 40, seed=0)
    result = rank_sources(
        digits, ["efficientnet-lite0"], ["leep", "nce", "nleep"], layers=["block-3", "last"], n_boot=3
    )
    by_layer = {r.layer: r for r in result.rows}
    assert by_layer["last"].scores["leep"] <= 0 and by_layer["last"].scores["nce"] <= 0
    assert by_layer["block-3"].scores["leep"] is None and by_layer["block-3"].scores["nce"] is None
    assert all(r.scores["nleep"] is not None for r in result.rows)
    assert result.consensus_metrics == ["nleep"]
    source = create_source("efficientnet-lite0")  # one-pass stages equal the source's own embedding
    assert np.array_equal(EmbeddingCache().get(source, digits, "block-3"), source.embed(digits.inputs, "block-3"))


def test_rank_bad_inputs(bbc_small):
    with pytest.raises(InputError, match="unknown source 'nope'"):
        rank_sources(bbc_small, ["nope"])
    with pytest.raises(InputError, match="embeds image inputs"):
        rank_sources(bbc_small, ["efficientnet-lite0"], ["logme"])
    with pytest.raises(InputError, match="has no layer 'layer-9'"):
        rank_sources(bbc_small, ["minilm-l3"], ["logme"], layers=["layer-9"])
    with pytest.raises(InputError, match="not a transferability score"):
        rank_sources(bbc_small, ["minilm-l3"], ["accuracy"])
    with pytest.raises(InputError, match="unknown metric"):
        rank_sources(bbc_small, ["minilm-l3"], ["logmee"])
    with pytest.raises(InputError, match="duplicates"):
        rank_sources(bbc_small, ["glove-50d", "glove-50d"])
    with pytest.raises(InputError, match="n_boot"):
        rank_sources(bbc_small, ["glove-50d"], n_boot=-1)
    one_class = TaskData("one", ["a b", "c d", "e f"], np.zeros(3, dtype=np.int64), ("x",), "text", "f1")
    with pytest.raises(InputError, match="at least 2 classes"):
        rank_sources(one_class, ["glove-50d"])


# ---------------------------------------------------------------- the CLI


def test_cli_rank_json(text_csv, tmp_path):
    out = tmp_path / "rank.json"
    args = ["--dataset", text_csv, "--sources", "minilm-l3,glove-50d", "--metrics", "logme,knn-loo", "--n-boot", "3"]
    done = cli("rank", *args, "--max-examples", "60", "--json", "--out", str(out))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data == json.loads(out.read_text())
    assert data["n_examples"] == 60 and data["metrics"] == ["logme", "knn-loo"]
    assert sorted(r["candidate"] for r in data["rows"]) == ["glove-50d", "minilm-l3"]


def test_cli_rank_table(text_csv):
    done = cli("rank", "--dataset", text_csv, "--sources", "glove-50d,tfidf", "--metrics", "logme", "--n-boot", "2")
    assert done.returncode == 0, done.stderr
    assert "glove-50d" in done.stdout and "tfidf" in done.stdout and "P(best)" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sources", "glove-50d,nope"], "unknown source 'nope'"),
        (["--sources", "glove-50d", "--text-column", "body"], "no column 'body'"),
        (["--sources", "glove-50d", "--validate", "/nonexistent/run"], "no summary.json"),
        (["--sources", "minilm-l6,efficientnet-lite0"], "embeds image inputs"),  # before any model loads
    ],
)
def test_cli_rank_bad_input_is_one_line(text_csv, args, message):
    done = cli("rank", "--dataset", text_csv, *args)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("transferlab: error:"), done.stderr
    assert message in lines[0]


def test_cli_rank_one_class_file(tmp_path):
    path = tmp_path / "one.csv"
    pd.DataFrame({"text": ["a b", "c d", "e f"], "label": ["x", "x", "x"]}).to_csv(path, index=False)
    done = cli("rank", "--dataset", str(path), "--sources", "glove-50d")
    assert done.returncode == 2 and "at least 2 classes" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------- validation against a study


@pytest.fixture(scope="module")
def study_run(tmp_path_factory) -> Path:
    """A small real study: bbc-news (200 articles), two sources, linear probe, two budgets, two seeds."""
    spec = {
        "name": "rank-check",
        "task": {"dataset": "bbc-news", "max_examples": 200, "test_size": 0.5},
        "sources": ["minilm-l3", "glove-50d"],
        "strategies": ["linear-probe"],
        "budgets": [20, 50],
        "seeds": 2,
        "transferability": ["logme", "knn-loo"],
    }
    out = tmp_path_factory.mktemp("runs") / "study"
    result = run_study(parse_spec(spec), out, progress=False)
    assert result.failed == []
    return out


def test_study_summary_has_transferability_block(study_run):
    summary = json.loads((study_run / "summary.json").read_text())
    block = summary["transferability"]
    assert block["metrics"] == ["logme", "knn-loo"] and block["n_examples"] == 100  # the training pool
    assert {r["candidate"] for r in block["rows"]} == {"minilm-l3", "glove-50d"}
    assert block["outcome_budget"] == 50 and block["outcome_strategies"] == ["linear-probe"]
    probe = {e["source"]: e["metrics"]["accuracy"] for e in summary["entries"] if e["budget"] == 50}
    assert block["outcomes"] == pytest.approx(probe)
    for metric in ("logme", "knn-loo", "consensus"):
        row = block["agreement"][metric]
        assert row["n"] == 2 and row["kendall_tau"] in (-1.0, 1.0) and isinstance(row["top1_hit"], bool)


def test_validate_ranking_against_the_study(study_run, bbc_small):
    result = rank_sources(bbc_small, ["minilm-l3", "glove-50d", "tfidf"], ["logme", "knn-loo"], n_boot=0)
    found = validate_ranking(result, study_run)
    assert found["sources"] == ["glove-50d", "minilm-l3"]  # tfidf was not in the study
    assert found["budget"] == 50
    scores, outcomes = result.scores("logme"), found["outcomes"]
    agree = (scores["glove-50d"] - scores["minilm-l3"]) * (outcomes["glove-50d"] - outcomes["minilm-l3"])
    expected = 1.0 if agree > 0 else -1.0 if agree < 0 else 0.0
    assert found["metrics"]["logme"]["kendall_tau"] == expected
    assert set(found["metrics"]) == {"logme", "knn-loo", "consensus"}


def test_validate_needs_two_shared_sources(study_run, bbc_small):
    result = rank_sources(bbc_small, ["minilm-l3", "tfidf"], ["logme"], n_boot=0)
    with pytest.raises(InputError, match="at least 2 sources"):
        validate_ranking(result, study_run)
    with pytest.raises(InputError, match="no summary.json"):
        validate_ranking(result, study_run / "missing")


def test_study_outcomes_take_best_of_probe_and_fine_tuning():
    entries = [
        {"source": "a", "strategy": "linear-probe", "role": "transfer", "budget": 10, "labels_used": 10, "mean": 0.9},
        {"source": "a", "strategy": "linear-probe", "role": "transfer", "budget": 40, "labels_used": 40, "mean": 0.6},
        {"source": "a", "strategy": "scratch", "role": "baseline", "budget": 40, "labels_used": 40, "mean": 0.99},
        {"source": "b", "strategy": "knn", "role": "transfer", "budget": 40, "labels_used": 40, "mean": 0.95},
        {"source": "b", "strategy": "linear-probe", "role": "transfer", "budget": 40, "labels_used": 40, "mean": 0.7},
    ]
    found = study_outcomes(entries)
    assert found["budget"] == 40 and found["outcomes"] == {"a": 0.6, "b": 0.7}


def test_cli_validate(study_run, text_csv):
    done = cli(
        "rank",
        *("--dataset", "bbc-news", "--sources", "minilm-l3,glove-50d", "--metrics", "logme"),
        *("--max-examples", "50", "--n-boot", "0", "--json", "--validate", str(study_run)),
    )
    assert done.returncode == 0, done.stderr
    validation = json.loads(done.stdout)["validation"]
    assert validation["sources"] == ["glove-50d", "minilm-l3"] and "logme" in validation["metrics"]


def test_spec_rejects_unknown_transferability_score():
    spec = {
        "name": "x",
        "task": {"dataset": "bbc-news"},
        "sources": ["glove-50d"],
        "strategies": ["linear-probe"],
        "budgets": [10],
        "transferability": ["logme", "lgme"],
    }
    with pytest.raises(InputError, match="unknown transferability score 'lgme'"):
        parse_spec(spec)
