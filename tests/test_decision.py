"""The study's answer per budget: known answers, and no more claims than the nominal rate on null studies."""

from __future__ import annotations

import numpy as np
import pytest

from transferlab.analysis.decision import Contender, Rules, decide
from transferlab.analysis.settle import settle, settle_text

N_TEST = 300


def arm_scores(
    rng: np.random.Generator, difficulty: np.ndarray, shift: float, seeds: int = 3, sd: float = 0.02
) -> dict:
    """Per-seed 0/1 correctness: shared example difficulty, a seed effect of ``sd``, a mean shift."""
    return {
        s: (rng.random(N_TEST) < np.clip(difficulty + shift + rng.normal(0, sd), 0, 1)).astype(float)
        for s in range(seeds)
    }


def contenders(rng: np.random.Generator, shifts: list[float], difficulty: np.ndarray, prefix: str) -> list[Contender]:
    return [Contender(("src", f"{prefix}{i}", 40), arm_scores(rng, difficulty, d)) for i, d in enumerate(shifts)]


def test_a_clearly_better_arm_is_transfer_and_is_named():
    rng = np.random.default_rng(0)
    difficulty = rng.uniform(0.3, 0.6, N_TEST)
    transfer = contenders(rng, [0.0, 0.35, 0.05], difficulty, "t")
    out = decide(transfer, contenders(rng, [0.0, -0.1], difficulty, "b"), Rules())
    assert out["kind"] == "transfer" and out["arm"]["strategy"] == "t1"
    assert out["baseline"]["strategy"] == "b0" and out["lo"] > 0
    assert out["n_compared"] == 6 and out["pair_confidence"] == pytest.approx(1 - 0.05 / 6)


def test_a_baseline_ahead_of_every_arm_is_do_not_transfer():
    rng = np.random.default_rng(1)
    difficulty = rng.uniform(0.4, 0.8, N_TEST)
    out = decide(contenders(rng, [-0.15, -0.35], difficulty, "t"), contenders(rng, [0.0], difficulty, "b"), Rules())
    assert out["kind"] == "do not transfer" and out["arm"]["strategy"] == "t0" and out["hi"] < 0


def test_identical_predictions_are_equivalent():
    rng = np.random.default_rng(2)
    scores = arm_scores(rng, rng.uniform(0.4, 0.8, N_TEST), 0.0)
    out = decide([Contender(("s", "t", 40), scores)], [Contender(("none", "b", 40), scores)], Rules())
    assert out["kind"] == "equivalent" and out["gain"] == 0.0


def test_a_noisy_comparison_is_undecided_and_says_what_would_settle_it():
    rng = np.random.default_rng(3)
    difficulty = rng.uniform(0.4, 0.8, 60)
    t = {s: (rng.random(60) < difficulty + 0.06).astype(float) for s in range(3)}
    b = {s: (rng.random(60) < difficulty).astype(float) for s in range(3)}
    out = decide([Contender(("s", "t", 40), t)], [Contender(("none", "b", 40), b)], Rules())
    assert out["kind"] == "undecided"
    needed = out["settle"]
    assert needed["test_examples"] is None or needed["test_examples"] > 60
    assert "would show" in settle_text(needed) or "both are needed" in settle_text(needed)


def test_a_label_free_arm_is_compared_at_every_seed_of_the_baseline():
    rng = np.random.default_rng(4)
    difficulty = rng.uniform(0.4, 0.8, N_TEST)
    zero = Contender(("s", "zero-shot", 0), {0: (rng.random(N_TEST) < difficulty + 0.3).astype(float)}, label_free=True)
    out = decide([zero], contenders(rng, [0.0], difficulty, "b"), Rules())
    assert out["kind"] == "transfer" and out["n_seeds"] == 3


def test_no_baseline_that_learned_gives_no_verdict():
    rng = np.random.default_rng(5)
    out = decide(contenders(rng, [0.0], rng.uniform(0.4, 0.8, N_TEST), "t"), [], Rules())
    assert out["kind"] == "no baseline"


@pytest.mark.parametrize(("n_transfer", "n_baselines"), [(4, 1), (6, 2)])
def test_null_study_claims_transfer_or_not_at_most_at_the_nominal_rate(n_transfer, n_baselines):
    # every arm drawn from the same distribution: any "transfer" or "do not transfer" is a false claim
    rng = np.random.default_rng(10 + n_transfer)
    reps, claims = 400, 0
    for _ in range(reps):
        difficulty = rng.uniform(0.3, 0.9, N_TEST)
        transfer = contenders(rng, [0.0] * n_transfer, difficulty, "t")
        baselines = contenders(rng, [0.0] * n_baselines, difficulty, "b")
        claims += decide(transfer, baselines, Rules())["kind"] in ("transfer", "do not transfer")
    # nominal 5 %: allow three binomial standard errors of sampling noise on 400 replicates
    assert claims / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_settle_shrinks_with_the_variance_it_is_given():
    rng = np.random.default_rng(6)
    d = rng.normal(0.03, 0.3, (3, 200)) + rng.normal(0, 0.02, (3, 1))
    needed = settle(d, 0.95, 0.0, 0.02)
    assert needed["goal"] == "difference" and needed["half_width"] > needed["target_half_width"]
    assert needed["seeds"] is None or needed["seeds"] > 3
    one_seed = settle(d[:1], 0.95, 0.0, 0.02)
    assert one_seed["seeds"] is None and "one seed" in one_seed["note"]
