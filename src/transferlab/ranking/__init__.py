"""Choosing the source before fine-tuning: rank candidate sources and layers, and check the ranking.

* :func:`rank_sources` scores every (source, layer) on a target task with transferability scores,
  with a bootstrap spread per score, a consensus rank and the probability the top one is best;
* :func:`validate_ranking` compares a ranking with the outcomes a study measured;
* :func:`study_transferability` is the ``transferability`` block of a study's summary.json.
"""

from __future__ import annotations

from transferlab.ranking.agreement import agreement, study_outcomes, study_transferability, validate_ranking
from transferlab.ranking.rank import RankResult, RankRow, default_metrics, rank_sources

__all__ = [
    "RankResult",
    "RankRow",
    "agreement",
    "default_metrics",
    "rank_sources",
    "study_outcomes",
    "study_transferability",
    "validate_ranking",
]
