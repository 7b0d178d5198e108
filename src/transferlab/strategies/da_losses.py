"""The losses of deep domain adaptation, as pure functions of feature tensors (tested without a model).

``gradient_reversal`` and ``dann_lambda`` (DANN), ``mmd_loss`` (DAN), ``coral_loss`` (Deep
CORAL), and ``domain_health``, which reads a domain classifier's record and says whether the
adversarial game collapsed.
"""

from __future__ import annotations

import math

import numpy as np
import torch

# Windows of training the domain classifier's accuracy is judged over, and the fewest domain
# predictions a window needs before it is judged at all (a 2-step smoke run says nothing).
HEALTH_WINDOWS = 4
MIN_WINDOW_EXAMPLES = 32


class _GradientReversal(torch.autograd.Function):
    """Identity forward; the gradient multiplied by ``-lambda`` backward."""

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, x: torch.Tensor, lambda_: float) -> torch.Tensor:
        ctx.lambda_ = lambda_
        return x.view_as(x)

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        return -ctx.lambda_ * grad, None


def gradient_reversal(x: torch.Tensor, lambda_: float) -> torch.Tensor:
    """The gradient-reversal layer of DANN: ``x`` forward, ``-lambda * grad`` backward.

    The domain classifier above it learns to tell the domains apart while the features below
    it receive the opposite gradient, and so learn to make the domains indistinguishable.
    Ganin et al. (2016), "Domain-adversarial training of neural networks", JMLR 17.
    """
    return _GradientReversal.apply(x, lambda_)


def dann_lambda(progress: float, gamma: float = 10.0) -> float:
    """DANN's adaptation factor ``2 / (1 + exp(-gamma p)) - 1``, rising from 0 to ~1 over training.

    ``progress`` ``p`` runs from 0 to 1; starting at 0 keeps the noisy early domain classifier
    from steering the features (Ganin et al. 2016, section 5.2.2).
    """
    return 2.0 / (1.0 + math.exp(-gamma * progress)) - 1.0


def mmd_loss(source: torch.Tensor, target: torch.Tensor, n_kernels: int = 5, kernel_mul: float = 2.0) -> torch.Tensor:
    """Multi-kernel MMD^2 between two batches of features (biased V-statistic), as in DAN.

    A sum of Gaussian kernels whose bandwidths are ``kernel_mul ** k`` times the median pairwise
    squared distance of the pooled batch (k centred on 0), so the loss is scale-free. The
    V-statistic is >= 0 and exactly 0 for identical batches. DAN (Long, Cao, Wang & Jordan 2015,
    "Learning transferable features with deep adaptation networks", ICML) learns the kernel
    weights; equal weights are used here, as most reproductions do, since the learned weights
    need a quadratic programme per step for a small gain.

    source : (n, d); target : (m, d). Returns a scalar tensor.
    """
    pooled = torch.cat([source, target]).float()  # (n + m, d)
    distances = torch.cdist(pooled, pooled).pow(2)  # (n + m, n + m)
    n = len(source)
    with torch.no_grad():  # the bandwidth is a scale, not something to optimise through
        off_diagonal = distances[~torch.eye(len(pooled), dtype=torch.bool)]
        base = off_diagonal.median().clamp_min(1e-12)
    scales = [base * kernel_mul ** (k - n_kernels // 2) for k in range(n_kernels)]
    kernel = sum(torch.exp(-distances / s) for s in scales)  # (n + m, n + m)
    return kernel[:n, :n].mean() + kernel[n:, n:].mean() - 2 * kernel[:n, n:].mean()


def coral_loss(source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Deep CORAL: ``||C_s - C_t||_F^2 / (4 d^2)`` between the batches' feature covariances.

    Sun & Saenko (2016), "Deep CORAL: correlation alignment for deep domain adaptation", ECCV
    workshops. source : (n, d); target : (m, d); n, m >= 2.
    """
    d = source.shape[1]
    return (_covariance(source.float()) - _covariance(target.float())).pow(2).sum() / (4 * d * d)


def _covariance(x: torch.Tensor) -> torch.Tensor:
    centred = x - x.mean(dim=0, keepdim=True)  # (n, d)
    return centred.T @ centred / (len(x) - 1)  # (d, d)


def domain_health(correct: np.ndarray, predicted_target: np.ndarray) -> dict[str, object]:
    """Did the domain classifier of an adversarial run do its job? Judged over windows of training.

    Parameters
    ----------
    correct : (steps, 2) per step, domain predictions that were right and predictions made.
    predicted_target : (steps,) per step, how many examples were predicted as target.

    Returns
    -------
    ``domain_accuracy`` per window, ``predicted_target_share`` per window, and ``collapsed``:
    True when the classifier predicted one domain for >= 95% of the examples over the second
    half of training (stuck at one domain), or when its accuracy was never above chance in any
    window (one-sided binomial z > 2 against 0.5: it never told the domains apart, so the
    reversed gradient carried no signal). Windows with fewer than ``MIN_WINDOW_EXAMPLES``
    predictions are not judged.
    """
    correct, predicted_target = np.asarray(correct, dtype=np.float64), np.asarray(predicted_target, dtype=np.float64)
    windows = [w for w in np.array_split(np.arange(len(correct)), HEALTH_WINDOWS) if len(w)]
    hits = np.array([correct[w, 0].sum() for w in windows])
    made = np.array([correct[w, 1].sum() for w in windows])
    to_target = np.array([predicted_target[w].sum() for w in windows])
    judged = made >= MIN_WINDOW_EXAMPLES
    accuracy = hits / np.maximum(made, 1)
    z = (accuracy - 0.5) / np.sqrt(0.25 / np.maximum(made, 1))
    late = slice(len(windows) // 2, None)
    late_share = to_target[late].sum() / max(made[late].sum(), 1)
    stuck = bool(made[late].sum() >= MIN_WINDOW_EXAMPLES and min(late_share, 1 - late_share) <= 0.05)
    at_chance = bool(judged.all() and len(windows) == HEALTH_WINDOWS and not (z > 2).any())
    return {
        "domain_accuracy": [round(float(a), 4) for a in accuracy],
        "predicted_target_share": [round(float(t / max(m, 1)), 4) for t, m in zip(to_target, made, strict=True)],
        "stuck_at_one_domain": stuck,
        "at_chance_throughout": at_chance,
        "collapsed": stuck or at_chance,
    }
