"""The one sentence a ranking ends with: which source to try first, and how far to trust that.

A ranking is worth acting on alone when the candidates differ and the scores agree: one
candidate first on nearly every score and in nearly every bootstrap replicate. Then fine-tuning
the first is a reasonable start and the others can wait. When the scores disagree, or P(best)
is spread, the sentence says to fine-tune the top few before choosing. The scores were checked
against frozen-probe outcomes (docs/rank_validation.md), not fine-tuning, and the sentence says
so rather than promise more.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
from scipy.stats import kendalltau

from transferlab.ranking.rank import RankResult

CLEAR_P_BEST = 0.9  # first in at least 90 % of the replicates
CLEAR_LEAD = 0.75  # and first on at least 3 scores out of 4
AGREE_TAU = 0.5  # mean pairwise Kendall tau between the scores' rankings


def score_agreement(result: RankResult) -> float | None:
    """Mean pairwise Kendall tau between the rankings the consensus scores give the candidates."""
    metrics = [m for m in result.consensus_metrics if len(result.scores(m)) >= 3]
    taus = []
    for a, b in combinations(metrics, 2):
        sa, sb = result.scores(a), result.scores(b)
        common = sorted(set(sa) & set(sb))
        if len(common) >= 3:
            tau = kendalltau([sa[c] for c in common], [sb[c] for c in common]).statistic
            if np.isfinite(tau):
                taus.append(float(tau))
    return float(np.mean(taus)) if taus else None


def leads(result: RankResult, candidate: str) -> tuple[int, int]:
    """(scores on which ``candidate`` is first, scores that rank two or more candidates)."""
    first = total = 0
    for metric in result.consensus_metrics:
        scores = result.scores(metric)
        if len(scores) >= 2:
            total += 1
            first += max(scores, key=lambda c: scores[c]) == candidate
    return first, total


def conclusion(result: RankResult) -> str:
    """Which candidate to try first, and whether the scores agree enough to skip the others."""
    if not result.rows:
        return "No candidate could be scored."
    if len(result.rows) == 1:
        return f"Only {result.rows[0].candidate} was scored: there is nothing to choose between."
    top, runner = result.rows[0], result.rows[1]
    first, total = leads(result, top.candidate)
    tau = score_agreement(result)
    evidence = f"first on {first} of {total} scores"
    if top.p_best is not None:
        evidence += f" and in {top.p_best:.0%} of {result.n_boot} bootstrap replicates"
    if tau is not None:
        evidence += f"; the scores agree at mean Kendall tau {tau:+.2f}"
    clear = total and first / total >= CLEAR_LEAD and (tau is None or tau >= AGREE_TAU)
    clear = clear and (top.p_best is None or top.p_best >= CLEAR_P_BEST)
    if clear:
        return (
            f"Try {top.candidate} first: {evidence}. That is clear enough to fine-tune it alone before the others"
            " (the scores were validated against frozen probes, not fine-tuning)."
        )
    shortlist = ", ".join(r.candidate for r in result.rows[:3])
    return (
        f"Try {top.candidate} first, ahead of {runner.candidate}, but the ranking is not clear ({evidence}):"
        f" fine-tune the top candidates ({shortlist}) before choosing."
    )
