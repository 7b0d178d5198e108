"""How well a transferability score ranks sources: agreement with the measured outcomes.

``scores`` are the transferability scores of the candidate sources, ``outcomes`` what
fine-tuning each source actually achieved (higher is better for both). Either may be a sequence
(aligned by position) or a mapping from source name to value (aligned by name).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from transferlab.errors import InputError

Values = Mapping[str, float] | Sequence[float] | np.ndarray


def _aligned(scores: Values, outcomes: Values) -> tuple[np.ndarray, np.ndarray]:
    """The two inputs as aligned float vectors, checked once for every helper here."""
    if isinstance(scores, Mapping) or isinstance(outcomes, Mapping):
        if not (isinstance(scores, Mapping) and isinstance(outcomes, Mapping)) or set(scores) != set(outcomes):
            raise InputError(
                "rank agreement: expected scores and outcomes keyed by the same sources, found "
                f"{sorted(scores) if isinstance(scores, Mapping) else 'a sequence'} and "
                f"{sorted(outcomes) if isinstance(outcomes, Mapping) else 'a sequence'}; "
                "fix: pass two dicts with the same source names"
            )
        names = sorted(scores)
        scores, outcomes = [scores[s] for s in names], [outcomes[s] for s in names]
    s, o = np.asarray(scores, dtype=float), np.asarray(outcomes, dtype=float)
    if s.ndim != 1 or s.shape != o.shape or s.size < 2 or not (np.isfinite(s).all() and np.isfinite(o).all()):
        raise InputError(
            f"rank agreement: expected two finite 1-D arrays of the same length >= 2, found shapes "
            f"{s.shape} and {o.shape}; fix: pass one score and one outcome per source, at least two sources"
        )
    return s, o


def kendall_tau(scores: Values, outcomes: Values) -> float:
    """Kendall's tau-b between scores and outcomes, in [-1, 1].

    Kendall, "A New Measure of Rank Correlation", Biometrika 1938.
    """
    from scipy.stats import kendalltau

    s, o = _aligned(scores, outcomes)
    return float(kendalltau(s, o).statistic)


def weighted_tau(scores: Values, outcomes: Values) -> float:
    """Weighted Kendall's tau (hyperbolic weights on rank), in [-1, 1].

    Vigna, "A Weighted Correlation Index for Rankings with Ties", WWW 2015; the measure LogME
    (You et al., ICML 2021) reports, computed with :func:`scipy.stats.weightedtau` defaults so
    swaps near the top of the ranking count most.
    """
    from scipy.stats import weightedtau

    s, o = _aligned(scores, outcomes)
    return float(weightedtau(s, o).statistic)


def top1_hit(scores: Values, outcomes: Values) -> bool:
    """True when the source the score ranks first has the best outcome.

    If several sources tie for the top score, all of them must have the best outcome.
    """
    s, o = _aligned(scores, outcomes)
    return bool(np.all(o[s == s.max()] == o.max()))
