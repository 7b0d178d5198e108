"""The sentence `rank` ends with follows the evidence: clear only when scores and replicates agree."""

from __future__ import annotations

from transferlab.ranking.conclusion import conclusion, score_agreement
from transferlab.ranking.rank import RankResult, RankRow

METRICS = ["logme", "knn-loo", "linear-cv", "hscore"]


def result(scores: dict[str, list[float]], p_best: list[float | None]) -> RankResult:
    rows = []
    for i, (name, values) in enumerate(scores.items()):
        row = RankRow(name, name, "last", 8, dict(zip(METRICS, values, strict=True)), {}, {}, rank=i + 1)
        row.p_best = p_best[i]
        rows.append(row)
    return RankResult("task", 100, 3, METRICS, METRICS, 20, rows)


def test_agreeing_scores_and_replicates_say_try_it_alone():
    ranked = result({"a": [3, 3, 3, 3], "b": [2, 2, 2, 2], "c": [1, 1, 1, 1]}, [0.97, 0.03, 0.0])
    assert score_agreement(ranked) == 1.0
    text = conclusion(ranked)
    assert text.startswith("Try a first: first on 4 of 4 scores and in 97% of 20 bootstrap replicates")
    assert "fine-tune it alone" in text and "frozen probes" in text


def test_disagreeing_scores_say_fine_tune_the_shortlist():
    ranked = result({"a": [3, 1, 3, 1], "b": [2, 3, 1, 3], "c": [1, 2, 2, 2]}, [0.5, 0.4, 0.1])
    text = conclusion(ranked)
    assert "not clear" in text and "fine-tune the top candidates (a, b, c)" in text


def test_a_spread_p_best_is_not_clear_even_when_scores_agree():
    ranked = result({"a": [3, 3, 3, 3], "b": [2, 2, 2, 2], "c": [1, 1, 1, 1]}, [0.6, 0.4, 0.0])
    assert "not clear" in conclusion(ranked)
