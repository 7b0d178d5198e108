"""Maximum mean discrepancy (MMD) between two samples, with a permutation test.

Gretton, Borgwardt, Rasch, Schölkopf, Smola. "A Kernel Two-Sample Test", JMLR 13, 2012.

The statistic is the *unbiased* estimate of MMD² (the U-statistic of Lemma 6 in Gretton et al.)
with a Gaussian kernel ``k(a, b) = exp(-|a - b|² / (2 bandwidth²))``. Unbiased, because it is zero
on average when the two distributions are equal, whatever the sample sizes, so the number itself
reads as an estimate of the population MMD² and two runs of different sizes can be compared; the
biased V-statistic is always positive, by an amount that shrinks only as 1/n. The bandwidth is
the median heuristic: the median pairwise distance in the pooled sample. Pooling keeps it
unchanged under every permutation, so the test stays exact.

The null distribution comes from permutations of the pooled sample (the test is exact for any
sample size when the pooled examples are exchangeable under the null). The p-value is
``(1 + #{null >= observed}) / (1 + n_permutations)`` (Phipson & Smyth 2010): it is never 0, and
rejecting at ``p <= alpha`` has size at most ``alpha``.

Two implementations share the preparation (checks, subsample, bandwidth) and the permutations:

* :func:`mmd_test` computes the pooled ``(N, N)`` kernel matrix once. A permutation only
  relabels which rows are "source", so for a block of ``B`` permutations it forms the indicator
  matrix ``S`` ``(N, B)`` of the permuted source rows; every block sum ``s' K s`` then comes out of
  one matrix product ``K @ S``: ``O(N² B)`` per block in BLAS instead of ``O(N² d)`` kernel work
  per permutation.
* :func:`mmd_test_reference` recomputes the three kernel matrices for every permutation, the
  way the test is usually first written. It exists for the tests and ``benchmarks/bench_mmd.py``.

Large samples are subsampled to ``max_samples`` rows per side, uniformly without replacement
(seeded by ``random_state``): memory is ``O(N²)`` and time ``O(N² n_permutations)``, and a
thousand examples per side already detect shifts far smaller than those that move accuracy. The
test stays valid for the subsample (the p-value is exact conditional on which rows were drawn).

``strata_source`` / ``strata_target`` restrict permutations to within strata (e.g. classes):
the test then asks whether ``p(x | stratum)`` differs between the samples, the class mix held
fixed, which is how :mod:`transferlab.metrics.shift_diagnosis` separates covariate from label shift.

Reference: Phipson, B. and Smyth, G. K. (2010). Permutation p-values should never be zero.
Stat. Appl. Genet. Mol. Biol. 9(1).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from transferlab.errors import InputError
from transferlab.metrics.base import register_metric
from transferlab.metrics.shift_inputs import check_codes, check_two_samples, subsample_rows

# A permutation statistic within this of the observed one counts as a tie (>=). Both statistics
# are means of kernel values in [0, 1]; computed along two paths they differ by ~1e-15, and the
# swap of two equal-sized samples gives the same statistic exactly.
_TIE_TOL = 1e-10
# Indicator columns per block: bounds the (N, B) float64 blocks at about 32 MB.
_BLOCK_ELEMENTS = 4_000_000
_F = np.ndarray | float  # a block sum: one float, or (B,) for a block of permutations


@dataclass(frozen=True)
class MMDTestResult:
    """Unbiased MMD² of the samples used, its permutation p-value and how it was computed."""

    statistic: float
    p_value: float
    n_permutations: int
    bandwidth: float
    n_source: int  # rows used (after subsampling)
    n_target: int
    n_source_total: int
    n_target_total: int
    stratified: bool
    null: np.ndarray = field(repr=False, compare=False)  # (n_permutations,) permutation statistics
    test: str = "MMD² permutation test (Gaussian kernel, median-heuristic bandwidth)"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able fields (the permutation statistics are left out)."""
        out = asdict(self)
        out.pop("null")
        return out


@register_metric("mmd2", higher_is_better=False, needs=("X_source", "X_target"), kind="shift")
def mmd2(X_source: np.ndarray, X_target: np.ndarray, bandwidth: float | None = None) -> float:
    """Unbiased MMD² between two samples with a Gaussian kernel (Gretton et al. 2012, Lemma 6).

    Parameters
    ----------
    X_source : ndarray of shape (n_source, n_features)
    X_target : ndarray of shape (n_target, n_features)
    bandwidth : float, optional
        Kernel bandwidth; default the median pairwise distance of the pooled sample.

    Returns
    -------
    float
        Near 0 (possibly slightly negative) when the distributions are equal; larger is more shift.
    """
    X, Y = check_two_samples("mmd2", X_source, X_target)
    bw = median_bandwidth(np.vstack([X, Y])) if bandwidth is None else float(bandwidth)
    return _mmd2_of_samples(X, Y, bw)


def mmd_test(
    X_source: np.ndarray,
    X_target: np.ndarray,
    n_permutations: int = 1000,
    bandwidth: float | None = None,
    max_samples: int | None = 1000,
    strata_source: np.ndarray | None = None,
    strata_target: np.ndarray | None = None,
    random_state: int | None = 0,
) -> MMDTestResult:
    """MMD² permutation test with the kernel matrix computed once (see the module docstring).

    Parameters
    ----------
    X_source, X_target : ndarray of shape (n, n_features)
    n_permutations : int
        Permutations of the pooled sample.
    bandwidth : float, optional
        Gaussian kernel bandwidth; default the pooled median pairwise distance.
    max_samples : int or None
        Rows kept per side (uniform subsample without replacement); None keeps all.
    strata_source, strata_target : ndarray of int, optional
        Permute only within strata (both or neither).
    random_state : int or None
        Seed of the subsample and the permutations.

    Returns
    -------
    MMDTestResult
    """
    Z, m, strata, bw, rng, sizes = _prepare(
        X_source, X_target, n_permutations, bandwidth, max_samples, strata_source, strata_target, random_state
    )
    K = _gaussian_from_sqdist(_sqdist(Z, Z), bw)  # (N, N), once
    observed = float(_stats_from_kernel(K, m, np.arange(len(Z))[None, :])[0])
    null = np.concatenate([_stats_from_kernel(K, m, block) for block in _permutations(strata, n_permutations, rng)])
    return _result(observed, null, bw, m, len(Z) - m, sizes, strata)


def mmd_test_reference(
    X_source: np.ndarray,
    X_target: np.ndarray,
    n_permutations: int = 1000,
    bandwidth: float | None = None,
    max_samples: int | None = 1000,
    strata_source: np.ndarray | None = None,
    strata_target: np.ndarray | None = None,
    random_state: int | None = 0,
) -> MMDTestResult:
    """The same test, recomputing the kernel matrices for every permutation (slow; for checks).

    Same arguments, subsample, bandwidth and permutations as :func:`mmd_test`, hence the same
    statistics to round-off and the same p-value.
    """
    Z, m, strata, bw, rng, sizes = _prepare(
        X_source, X_target, n_permutations, bandwidth, max_samples, strata_source, strata_target, random_state
    )
    observed = _mmd2_of_samples(Z[:m], Z[m:], bw)
    null = [
        _mmd2_of_samples(Z[p[:m]], Z[p[m:]], bw) for block in _permutations(strata, n_permutations, rng) for p in block
    ]
    return _result(observed, np.asarray(null), bw, m, len(Z) - m, sizes, strata)


def median_bandwidth(Z: np.ndarray) -> float:
    """Median pairwise Euclidean distance in ``Z`` ``(N, d)`` (1.0 when every point is the same)."""
    return _median_from_sqdist(_sqdist(Z, Z))


# ---------------------------------------------------------------- shared preparation


def _prepare(
    X_source: np.ndarray,
    X_target: np.ndarray,
    n_permutations: int,
    bandwidth: float | None,
    max_samples: int | None,
    strata_source: np.ndarray | None,
    strata_target: np.ndarray | None,
    random_state: int | None,
) -> tuple[np.ndarray, int, np.ndarray, float, np.random.Generator, tuple[int, int]]:
    """Checked pooled sample ``Z = [X; Y]`` (N, d), source size, strata (N,), bandwidth, the rng."""
    X, Y = check_two_samples("mmd_test", X_source, X_target)
    if not (isinstance(n_permutations, int | np.integer) and n_permutations >= 1):
        raise InputError(f"mmd_test: n_permutations must be a positive int, got {n_permutations!r}")
    if (strata_source is None) != (strata_target is None):
        raise InputError("mmd_test: give strata for both samples or for neither, found one; fix: pass both")
    s_x = (
        np.zeros(len(X), np.int64)
        if strata_source is None
        else check_codes("mmd_test", strata_source, len(X), "stratum")
    )
    s_y = (
        np.zeros(len(Y), np.int64)
        if strata_target is None
        else check_codes("mmd_test", strata_target, len(Y), "stratum")
    )
    rng = np.random.default_rng(random_state)
    keep_x, keep_y = subsample_rows(len(X), max_samples, rng), subsample_rows(len(Y), max_samples, rng)
    if min(keep_x.size, keep_y.size) < 2:
        raise InputError(f"mmd_test: max_samples must keep at least 2 rows per side, got {max_samples}")
    Z = np.vstack([X[keep_x], Y[keep_y]])  # (N, d)
    strata = np.concatenate([s_x[keep_x], s_y[keep_y]])  # (N,)
    bw = median_bandwidth(Z) if bandwidth is None else float(bandwidth)
    if not bw > 0:
        raise InputError(f"mmd_test: bandwidth must be positive, got {bandwidth!r}")
    return Z, keep_x.size, strata, bw, rng, (len(X), len(Y))


def _permutations(strata: np.ndarray, n_permutations: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Blocks of permutations ``(B, N)`` of ``0..N-1``, uniform among those that keep every stratum.

    Row ``b`` maps position ``i`` to example ``perm[b, i]`` of the same stratum. Sorting
    ``stratum + u`` with ``u ~ U(0, 1)`` orders the examples stratum by stratum, randomly within
    each; writing that order into the stratum-sorted positions gives the permutation. The draws
    come from one stream, so both implementations see the same permutations.
    """
    N = strata.size
    sorted_positions = np.argsort(strata, kind="stable")  # (N,)
    block = int(np.clip(_BLOCK_ELEMENTS // N, 16, 1024))
    for start in range(0, n_permutations, block):
        b = min(block, n_permutations - start)
        shuffled = np.argsort(strata[None, :] + rng.random((b, N)), axis=1)  # (b, N)
        perms = np.empty_like(shuffled)
        perms[:, sorted_positions] = shuffled
        yield perms


def _result(
    observed: float, null: np.ndarray, bw: float, m: int, n: int, sizes: tuple[int, int], strata: np.ndarray
) -> MMDTestResult:
    exceed = int(np.sum(null >= observed - _TIE_TOL))
    p_value = (1 + exceed) / (1 + null.size)
    stratified = bool(np.unique(strata).size > 1)
    return MMDTestResult(observed, p_value, int(null.size), bw, m, n, sizes[0], sizes[1], stratified, null)


# ---------------------------------------------------------------- kernel arithmetic


def _stats_from_kernel(K: np.ndarray, m: int, perms: np.ndarray) -> np.ndarray:
    """Unbiased MMD² for each permutation row of ``perms`` ``(B, N)``, from the pooled kernel ``K``.

    With ``s`` the 0/1 indicator of the permuted source rows and ``r = K 1``:
    ``s'Ks`` is the source-source sum, ``r's - s'Ks`` the cross sum and ``1'K1 - 2 r's + s'Ks``
    the target-target sum, so one product ``K @ S`` gives all three for a whole block.
    """
    N, B = K.shape[0], perms.shape[0]
    S = np.zeros((N, B))
    S[perms[:, :m].T, np.arange(B)] = 1.0  # (N, B) indicator of the permuted source
    row_sums, diag = K.sum(axis=1), np.diagonal(K)  # (N,), (N,)
    s_xx = np.einsum("nb,nb->b", S, K @ S)  # (B,)
    r_s = row_sums @ S  # (B,)
    s_xy = r_s - s_xx
    s_yy = row_sums.sum() - 2.0 * r_s + s_xx
    tr_x = diag @ S
    return np.asarray(_unbiased(s_xx, s_yy, s_xy, tr_x, diag.sum() - tr_x, m, N - m))


def _mmd2_of_samples(X: np.ndarray, Y: np.ndarray, bw: float) -> float:
    """Unbiased MMD² from the three kernel matrices of ``X`` (m, d) and ``Y`` (n, d)."""
    K_xx = _gaussian_from_sqdist(_sqdist(X, X), bw)  # (m, m)
    K_yy = _gaussian_from_sqdist(_sqdist(Y, Y), bw)  # (n, n)
    K_xy = _gaussian_from_sqdist(_sqdist(X, Y), bw)  # (m, n)
    stat = _unbiased(K_xx.sum(), K_yy.sum(), K_xy.sum(), np.trace(K_xx), np.trace(K_yy), len(X), len(Y))
    return float(stat)


def _unbiased(s_xx: _F, s_yy: _F, s_xy: _F, tr_x: _F, tr_y: _F, m: int, n: int) -> _F:
    """Gretton et al. (2012) eq. 3 from block sums: the diagonals (k(x, x)) are left out."""
    return (s_xx - tr_x) / (m * (m - 1)) + (s_yy - tr_y) / (n * (n - 1)) - 2.0 * s_xy / (m * n)


def _sqdist(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Squared Euclidean distances ``(len(A), len(B))``, clipped at 0 against round-off."""
    sq: np.ndarray = (A * A).sum(axis=1)[:, None] + (B * B).sum(axis=1)[None, :] - 2.0 * (A @ B.T)
    return np.asarray(np.maximum(sq, 0.0))


def _gaussian_from_sqdist(sq: np.ndarray, bw: float) -> np.ndarray:
    kernel: np.ndarray = np.exp(-sq / (2.0 * bw * bw))
    return kernel


def _median_from_sqdist(sq: np.ndarray) -> float:
    upper = sq[np.triu_indices(sq.shape[0], k=1)]
    median = float(np.sqrt(np.median(upper))) if upper.size else 0.0
    return median if median > 0 else 1.0
