"""The Ben-David et al. domain-adaptation bound, estimated, and whether it says anything.

Ben-David, Blitzer, Crammer, Kulesza, Pereira, Vaughan. "A theory of learning from different
domains", Mach. Learn. 79, 2010, Theorem 2: for every hypothesis ``h`` of a class ``H``,

    err_T(h) <= err_S(h) + 1/2 d_HΔH(S, T) + lambda,   lambda = min_h' [err_S(h') + err_T(h')]

Each term is estimated here:

* ``err_S(h)``: the source classifier's error on held-out source examples;
* ``1/2 d``: half the proxy A-distance of a held-out linear domain classifier
  (:mod:`transferlab.metrics.domain_classifier`), the usual stand-in for ``d_HΔH`` (Ben-David et
  al. 2007 use it the same way). It is an estimate for linear domain classifiers, not the
  supremum over ``HΔH``, so the bound computed is an estimate too, not a guarantee;
* ``lambda``: the ideal joint error, only where target labels exist: a classifier trained on both
  labelled domains, its *held-out* errors on each domain added. A held-out error overestimates
  the minimum over ``H``, so the bound errs on the loose side, never falsely tight. Without target
  labels ``lambda`` is unknown and so is the bound; ``err_S + 1/2 d`` is still a floor under it.

The interval adds the terms' interval ends, each term at level ``1 - (1 - confidence) / 3``
(Bonferroni), so the sum covers at ``confidence`` at least. Errors take Wilson intervals.

When is it informative? The bound competes with the error of a trivial predictor on the target
(``chance_error``: always the most frequent target class). It is **vacuous** when its whole
interval sits at or above chance error (at or above 1 it says nothing at all), **informative**
when its whole interval is below, and **borderline** in between. A large divergence (two
domains a linear classifier separates well, as across languages) makes it vacuous whatever the
model: then only target labels can say how well the model transfers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from transferlab.metrics.shift_inputs import wilson_interval


@dataclass(frozen=True)
class ShiftBound:
    """Estimated terms of the bound, the bound (where lambda is known), and how to read it."""

    source_error: float
    source_error_interval: tuple[float, float]
    divergence: float  # 1/2 proxy A-distance
    divergence_interval: tuple[float, float]
    joint_error: float | None  # lambda
    joint_error_interval: tuple[float, float] | None
    bound: float | None
    bound_interval: tuple[float, float] | None
    floor: float  # err_S + 1/2 d: the bound is at least this
    floor_interval: tuple[float, float]
    target_error: float | None
    target_error_interval: tuple[float, float] | None
    chance_error: float
    chance_basis: str
    status: str  # informative | borderline | vacuous | unknown
    reading: str
    confidence: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def ben_david_bound(
    source_error: float,
    n_source: int,
    pad: tuple[float, float, float],
    chance_error: float,
    chance_basis: str = "most frequent class",
    joint_errors: tuple[float, int, float, int] | None = None,
    target_error: tuple[float, int] | None = None,
    confidence: float = 0.95,
) -> ShiftBound:
    """Estimate ``err_S + 1/2 d + lambda`` and say whether it beats chance (Ben-David et al. 2010).

    Parameters
    ----------
    source_error, n_source : float, int
        Held-out source error of the classifier and the number of examples it was measured on.
    pad : (estimate, lo, hi)
        Proxy A-distance with its interval, in [0, 2] (its interval level should be ``confidence``;
        it is widened here as the Bonferroni split needs).
    chance_error : float
        Error of the trivial predictor on the target; ``chance_basis`` says how it was found.
    joint_errors : (err_S, n_S, err_T, n_T), optional
        Held-out errors on each domain of a classifier trained on both labelled domains.
    target_error : (err_T, n_T), optional
        The classifier's measured target error, set beside the bound.
    confidence : float

    Returns
    -------
    ShiftBound
    """
    level = 1 - (1 - confidence) / 3  # three terms, Bonferroni
    src, src_iv = _error_interval(source_error, n_source, level)
    div, div_iv = pad[0] / 2, _widen(pad, confidence, level)
    floor, floor_iv = src + div, (src_iv[0] + div_iv[0], src_iv[1] + div_iv[1])
    lam = lam_iv = bound = bound_iv = target = target_iv = None
    if joint_errors is not None:
        (s, s_iv), (t, t_iv) = _error_interval(*joint_errors[:2], level), _error_interval(*joint_errors[2:], level)
        lam, lam_iv = s + t, (s_iv[0] + t_iv[0], s_iv[1] + t_iv[1])
        bound, bound_iv = floor + lam, (floor_iv[0] + lam_iv[0], floor_iv[1] + lam_iv[1])
    if target_error is not None:
        target, target_iv = _error_interval(*target_error, confidence)
    status = _status(bound_iv, floor_iv, chance_error)
    terms = f"source error {src:.3f} + divergence {div:.3f}"
    return ShiftBound(
        source_error=src,
        source_error_interval=src_iv,
        divergence=div,
        divergence_interval=div_iv,
        joint_error=lam,
        joint_error_interval=lam_iv,
        bound=bound,
        bound_interval=bound_iv,
        floor=floor,
        floor_interval=floor_iv,
        target_error=target,
        target_error_interval=target_iv,
        chance_error=chance_error,
        chance_basis=chance_basis,
        status=status,
        reading=_reading(status, terms, lam, bound, bound_iv or floor_iv, floor, target, chance_error),
        confidence=confidence,
    )


def _error_interval(error: float, n: int, level: float) -> tuple[float, tuple[float, float]]:
    return float(error), wilson_interval(round(error * n), n, level)


def _widen(pad: tuple[float, float, float], confidence: float, level: float) -> tuple[float, float]:
    """Half the PAD interval, its half-widths scaled from ``confidence`` to ``level`` (normal quantiles)."""
    from scipy import stats

    scale = stats.norm.ppf(0.5 + level / 2) / stats.norm.ppf(0.5 + confidence / 2)
    lo = max(0.0, pad[0] - (pad[0] - pad[1]) * scale) / 2
    hi = min(2.0, pad[0] + (pad[2] - pad[0]) * scale) / 2
    return float(lo), float(hi)


def _status(bound_iv: tuple[float, float] | None, floor_iv: tuple[float, float], chance: float) -> str:
    if bound_iv is None:
        return "vacuous" if floor_iv[0] >= chance else "unknown"
    if bound_iv[1] < chance:
        return "informative"
    return "vacuous" if bound_iv[0] >= chance else "borderline"


def _reading(
    status: str,
    terms: str,
    lam: float | None,
    bound: float | None,
    interval: tuple[float, float],
    floor: float,
    target: float | None,
    chance: float,
) -> str:
    """One sentence: the terms, the bound, the measured error, and what follows."""
    if bound is None:
        head = f"target error <= {terms} + lambda (unknown without target labels), so >= {floor:.3f}"
    else:
        head = f"target error <= {terms} + lambda {lam:.3f} = {bound:.3f} [{interval[0]:.3f}, {interval[1]:.3f}]"
    measured = "" if target is None else f"; measured target error {target:.3f}"
    if status == "informative":
        verdict = f"informative: below chance error {chance:.3f}"
    elif status == "borderline":
        verdict = f"borderline: its interval straddles chance error {chance:.3f}"
    elif status == "vacuous":
        verdict = f"vacuous: at or above chance error {chance:.3f}" + (" and above 1" if interval[0] >= 1 else "")
        verdict += "; the divergence alone makes it so" if bound is None else ""
    else:
        verdict = f"unknown: informative only if lambda < {chance - floor:.3f}"
    return f"{head}{measured}; {verdict}"
