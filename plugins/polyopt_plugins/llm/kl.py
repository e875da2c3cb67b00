"""KL estimators (Schulman, "Approximating KL divergence"): per-token estimates of KL(pi || ref) from the
sampled token's log-probabilities, ``fn(logp, ref_logp) -> n x T``. With ``log r = ref_logp - logp``:

- ``k1 = -log r`` (unbiased, high variance, can be negative),
- ``k2 = (log r)^2 / 2`` (biased, low variance; its gradient is the true reverse-KL gradient),
- ``k3 = r - 1 - log r`` (unbiased, non-negative).

The trainer places the estimate in the reward (``-beta k`` on each token) or in the loss (``+beta k``), and
logs the exact KL over the vocabulary (:func:`exact_kl`) separately.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["k1", "k2", "k3", "exact_kl"]


def k1(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``logp - ref_logp``."""
    return logp - ref_logp


def k2(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``(logp - ref_logp)^2 / 2``."""
    return 0.5 * (logp - ref_logp) ** 2


def k3(logp: Tensor, ref_logp: Tensor) -> Tensor:
    """``exp(ref_logp - logp) - (ref_logp - logp) - 1``."""
    log_r = ref_logp - logp
    return torch.exp(log_r) - log_r - 1


def exact_kl(log_probs: Tensor, ref_log_probs: Tensor) -> Tensor:
    """Exact ``KL(pi || ref)`` per position from full distributions ``... x V`` (log-softmax outputs)."""
    return (log_probs.exp() * (log_probs - ref_log_probs)).sum(-1)
