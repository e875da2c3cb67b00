"""Policy losses: ``fn(logp, old_logp, adv, mask, params) -> n x T`` per-token loss, aggregated afterwards.

``logp`` carries the gradient; ``old_logp`` is the sampling policy's (equal to ``logp.detach()`` when the update
is fully on-policy, which makes every ratio 1 and every clipped loss a plain policy gradient). A plugin adds a
loss with ``registry.add("policy_loss", ...)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import LossParams
from polyopt.policy_gradient import clipped_surrogate

__all__ = ["ppo_clip", "clip_higher", "dual_clip", "gspo", "reinforce"]


def ppo_clip(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """PPO clip (Schulman et al. 2017): ``-min(r A, clip(r, 1-eps, 1+eps) A)``, symmetric ``eps = clip_low``."""
    return clipped_surrogate(torch.exp(logp - old_logp), adv, p.clip_low, p.clip_low) * mask


def clip_higher(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """DAPO clip-higher (Yu et al. 2025): PPO clip with ``[1 - clip_low, 1 + clip_high]``, ``clip_high >
    clip_low`` (also NGRPO's asymmetric clipping)."""
    return clipped_surrogate(torch.exp(logp - old_logp), adv, p.clip_low, p.clip_high) * mask


def dual_clip(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """Dual-clip PPO (Ye et al. 2020): for negative advantages the loss is also bounded by ``-c A``."""
    loss = clipped_surrogate(torch.exp(logp - old_logp), adv, p.clip_low, p.clip_high)
    return torch.where(adv < 0, torch.minimum(loss, -p.dual_clip * adv), loss) * mask


def gspo(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """GSPO (Zheng et al. 2025): one length-normalized sequence ratio ``s = exp(mean_t(logp - old_logp))``,
    clipped per sequence; written per token as ``sg[s] * exp(logp - sg[logp])`` so each token gets the gradient
    ``s * grad(logp_t) / |y|`` after sequence-mean aggregation."""
    length = mask.sum(-1, keepdim=True).clamp_min(1.0)
    seq_log_ratio = ((logp - old_logp) * mask).sum(-1, keepdim=True) / length  # (n, 1)
    ratio = torch.exp(seq_log_ratio.detach() + logp - logp.detach())  # value s, token gradient
    return clipped_surrogate(ratio, adv, p.clip_low, p.clip_high) * mask


def reinforce(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """Plain REINFORCE: ``-A logp`` (no ratio, no clipping)."""
    return -adv * logp * mask
