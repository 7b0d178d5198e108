"""The recommendation wording follows the intervals, never more."""

from __future__ import annotations

import pytest

from transferlab.analysis.recommend import recommend, recommend_one


def row(gain: float, lo: float, hi: float, verdict: str, budget: int = 40, ratio: float = 50.0) -> dict:
    """A ladder comparison; ``ratio``: the challenger's trainable parameters / the cheap rung's."""
    return {
        "source": "minilm-l6",
        "budget": budget,
        "cheap": "linear-probe",
        "challenger": "finetune",
        "gain": gain,
        "lo": lo,
        "hi": hi,
        "verdict": verdict,
        "params_ratio": ratio,
    }


def test_positive_verdict_says_gains_with_the_interval():
    out = recommend_one(row(0.041, 0.02, 0.062, "positive", budget=400))
    assert out["kind"] == "gain"
    assert out["text"] == (
        "With 400 labels (minilm-l6): finetune gains 4.1 points [2.0, 6.2] over linear-probe,"
        " at 50x the trainable parameters."
    )


def test_narrow_interval_around_zero_says_as_good_as():
    out = recommend_one(row(-0.004, -0.015, 0.008, "inconclusive"))
    assert out["kind"] == "as-good-as"
    assert "linear-probe is as good as finetune (difference -0.4 points [-1.5, 0.8], within ±2.0 points)" in out["text"]
    assert out["text"].endswith("at 1/50 of the trainable parameters.")


def test_wide_interval_is_never_as_good_as_nor_gains():
    out = recommend_one(row(0.03, -0.04, 0.10, "inconclusive"))
    assert out["kind"] == "undecided"
    assert "as good as" not in out["text"] and "gains" not in out["text"]
    assert "cannot be told apart (difference 3.0 points [-4.0, 10.0])" in out["text"]


def test_interval_inside_margin_but_excluding_zero_is_not_as_good_as():
    # a small but real difference that the min_effect margin kept inconclusive: not "as good as"
    out = recommend_one(row(0.012, 0.004, 0.019, "inconclusive"))
    assert out["kind"] == "undecided"


def test_negative_verdict_says_the_cheap_rung_beats():
    out = recommend_one(row(-0.05, -0.08, -0.02, "negative", ratio=3.0))
    assert out["kind"] == "cheap-wins"
    assert "linear-probe beats finetune by 5.0 points [2.0, 8.0], at 1/3.0 of the trainable parameters." in out["text"]


def test_recommend_orders_by_source_and_budget_and_handles_nll():
    summary = {
        "primary_metric": "nll",
        "ladder": {"comparisons": [row(0.2, 0.1, 0.3, "positive", budget=160), row(0.0, -0.01, 0.01, "inconclusive")]},
    }
    out = recommend(summary)
    assert [r["budget"] for r in out] == [40, 160]
    assert "0.200 nats [0.100, 0.300]" in out[1]["text"]
    assert recommend({"primary_metric": "accuracy"}) == []


def test_ladder_summary_from_cells_feeds_the_recommendations():
    import numpy as np

    from transferlab.analysis.cells import CellView
    from transferlab.analysis.ladder import ladder_summary

    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, 300)

    def cell(strategy: str, role: str, budget: int, seed: int, accuracy: float, seconds: float) -> CellView:
        right = rng.random(300) < accuracy
        proba = np.zeros((300, 2))
        proba[np.arange(300), np.where(right, labels, 1 - labels)] = 1.0
        cost = {"fit_seconds": seconds, "trainable_params": 1e6 if strategy == "finetune" else 770.0}
        if strategy == "finetune":
            cost |= {"forgetting": 0.02, "heldout_before": 0.9, "heldout_after": 0.88}
        metrics = {"accuracy": float(right.mean())}
        return CellView("minilm-l6", strategy, budget, seed, role, metrics, cost, proba, strategy == "finetune")

    budgets = (10, 40, 160, 640)
    cells = [
        cell(name, role, b, s, acc(b), seconds)
        for b in budgets
        for s in range(3)
        for name, role, acc, seconds in (
            ("scratch", "baseline", lambda n: 1 - (2 * n**-0.5 + 0.1), 50.0),
            ("linear-probe", "transfer", lambda n: 0.80, 0.1),
            ("finetune", "transfer", lambda n: 0.55 if n < 100 else 0.97, 60.0),
        )
    ]
    ladder = ladder_summary(cells, labels, "accuracy", 0.95, 0.0)
    comparisons = {r["budget"]: r for r in ladder["comparisons"]}
    assert comparisons[640]["cheap"] == "linear-probe" and comparisons[640]["challenger"] == "finetune"
    assert comparisons[640]["verdict"] == "positive" and comparisons[10]["verdict"] == "negative"
    (block,) = ladder["effective_data"]
    assert block["curve"]["c"] == pytest.approx(0.1, abs=0.05)
    assert set(block["arms"]) == {"linear-probe", "finetune"}
    (be,) = ladder["break_even"]
    assert be["cheap"] == "linear-probe" and be["expensive"] == "finetune" and 40 < be["budget"] < 160
    assert {r["budget"] for r in ladder["forgetting"]} == set(budgets)
    texts = recommend({"primary_metric": "accuracy", "ladder": ladder})
    assert texts[0]["kind"] == "cheap-wins" and texts[-1]["kind"] == "gain"
    assert "finetune gains" in texts[-1]["text"] and "at 1,299x the trainable parameters" in texts[-1]["text"]


def test_a_zero_width_interval_supports_no_claim():
    out = recommend_one(row(-0.05, -0.05, -0.05, "negative"))
    assert out["kind"] == "undecided" and "beats" not in out["text"] and "no width" in out["text"]
    same = recommend_one(row(0.0, 0.0, 0.0, "inconclusive"))  # identical predictions on every example
    assert same["kind"] == "as-good-as"


def test_one_seed_is_said():
    out = recommend_one(row(0.041, 0.02, 0.062, "positive") | {"seed_variation_measured": False})
    assert out["kind"] == "gain" and out["text"].endswith("not seed-to-seed variation.)")


def test_do_not_transfer_answer_is_the_recommendation():
    answer = {"scope": "minilm-l3", "budget": 640, "kind": "do not transfer", "sentence": "From minilm-l3 ...: do not."}
    summary = {"primary_metric": "accuracy", "decision": {"per_source": [answer]}, "ladder": {"comparisons": []}}
    (out,) = recommend(summary)
    assert out["kind"] == "do-not-transfer" and out["text"] == answer["sentence"]


def test_a_rung_a_baseline_beats_is_never_advised():
    beaten = {"gain": -0.033, "lo": -0.054, "hi": -0.013, "verdict": "negative", "baseline_learned": True}
    entry = {
        "source": "minilm-l6",
        "strategy": "linear-probe",
        "budget": 40,
        "role": "transfer",
        "mean": 0.8,
        "gains": {"tfidf-logreg": beaten},
    }
    summary = {
        "primary_metric": "accuracy",
        "entries": [entry],
        "decision": {"per_source": [{"scope": "minilm-l6", "budget": 40, "kind": "undecided"}]},
        "ladder": {"comparisons": [row(0.03, -0.04, 0.10, "inconclusive")]},
    }
    (out,) = recommend(summary)
    assert out["kind"] == "baseline-wins"
    assert "tfidf-logreg beats linear-probe by 3.3 points [1.3, 5.4]: prefer tfidf-logreg" in out["text"]
    tied = {**beaten, "verdict": "inconclusive", "hi": 0.01}
    summary["entries"] = [entry, {**entry, "strategy": "finetune", "mean": 0.79, "gains": {"tfidf-logreg": tied}}]
    other = recommend(summary)[0]
    assert other["kind"] == "baseline-beats-rung" and "finetune is not shown worse than any baseline" in other["text"]
    not_learned = {**beaten, "baseline_learned": False}  # a baseline that did not learn proves nothing
    summary["entries"] = [{**entry, "gains": {"scratch": not_learned}}]
    assert recommend(summary)[0]["kind"] == "undecided"
