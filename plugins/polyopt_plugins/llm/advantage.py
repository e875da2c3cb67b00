"""Advantage estimators: ``fn(rollout, params) -> (advantages n x T, value_targets n x T | None)``.

Each estimator is a plain function with a ``requires`` attribute naming what it needs from the rollout (see
:data:`polyopt.components.REQUIREMENTS`); the trainer computes exactly those pieces — a greedy rollout
for ReMax, a critic for GAE — and nothing else. A plugin adds one with ``registry.add("advantage", ...)`` (see
:class:`polyopt.components.AdvantageEstimator`).
Sequence-level estimators broadcast one number per completion over its real tokens.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import AdvantageParams, Rollout, requires
from polyopt.policy_gradient import generalized_advantage

__all__ = [
    "gae",
    "grpo",
    "dr_grpo",
    "rloo",
    "remax",
    "reinforce_pp",
    "reinforce_pp_baseline",
    "bnpo",
    "ngrpo",
    "whiten",
]


def _broadcast(seq_adv: Tensor, mask: Tensor) -> Tensor:
    return seq_adv.unsqueeze(-1) * mask  # (n, T)


def whiten(x: Tensor, mask: Tensor, eps: float = 1e-6) -> Tensor:
    """``(x - mean) / std`` over the masked entries of ``x`` (``n x T``), zero elsewhere."""
    count = mask.sum().clamp_min(1.0)
    mean = (x * mask).sum() / count
    var = (((x - mean) * mask) ** 2).sum() / (count - 1).clamp_min(1.0)
    return (x - mean) / (var.sqrt() + eps) * mask


@requires("values")
def gae(r: Rollout, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    """Generalized advantage estimation (Schulman et al. 2016) with a learned critic, as in PPO for LMs.

    ``delta_t = r_t + gamma V_{t+1} - V_t`` (``V`` is 0 after the last real token), ``A_t = sum_l (gamma
    lam)^l delta_{t+l}``; value targets ``A + V``. Returned advantages are whitened over the batch.
    """
    assert r.values is not None
    values = r.values * r.mask  # (n, T)
    # time-major for the shared recursion; V is 0 after the last real token (the appended column)
    bootstrapped = torch.cat([values, torch.zeros_like(values[:, :1])], dim=1).T  # (T + 1, n)
    adv = (
        generalized_advantage((r.token_rewards * r.mask).T, bootstrapped, p.gamma, p.lam).T * r.mask
    )
    return whiten(adv, r.mask, p.eps), (adv + values) * r.mask


@requires("groups")
def grpo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """GRPO (Shao et al. 2024): ``(r_i - mean(group)) / (std(group) + eps)``, unbiased std as in TRL/verl."""
    if r.group_ids is not None:  # groups of unequal sizes (a rollout-budget sampler)
        mean, std, _ = r.group_stats()
        return _broadcast((r.scores - mean) / (std + p.eps), r.mask), None
    g = r.grouped()
    adv = (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + p.eps)
    return _broadcast(adv.flatten(), r.mask), None


@requires("groups")
def dr_grpo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """Dr. GRPO (Liu et al. 2025): ``r_i - mean(group)``, no std; pair with ``seq-mean-token-sum-norm``."""
    if r.group_ids is not None:
        return _broadcast(r.scores - r.group_stats()[0], r.mask), None
    g = r.grouped()
    return _broadcast((g - g.mean(1, keepdim=True)).flatten(), r.mask), None


@requires("groups")
def rloo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """RLOO (Ahmadian et al. 2024): ``r_i - mean of the other k-1 rewards of the group``."""
    if r.group_ids is not None:
        mean, _, count = r.group_stats()
        loo = (mean * count - r.scores) / (count - 1).clamp_min(1)
        return _broadcast(r.scores - loo, r.mask), None
    g = r.grouped()
    k = g.shape[1]
    loo = (g.sum(1, keepdim=True) - g) / max(k - 1, 1)
    return _broadcast((g - loo).flatten(), r.mask), None


@requires("greedy")
def remax(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """ReMax (Li et al. 2024): ``r_i - r(greedy completion of the same prompt)``."""
    assert r.greedy_scores is not None
    return _broadcast(r.scores - r.greedy_scores, r.mask), None


#: estimators that take groups of unequal sizes (``Rollout.group_ids``, set by a rollout-budget sampler)
for _fn in (grpo, dr_grpo, rloo):
    _fn.ragged_groups = True  # type: ignore[attr-defined]


def _returns(token_rewards: Tensor, mask: Tensor, gamma: float) -> Tensor:
    """``n x T`` discounted reward-to-go ``G_t = sum_{s>=t} gamma^(s-t) r_s``."""
    t = token_rewards.shape[1]
    idx = torch.arange(t, device=token_rewards.device)
    power = (idx.view(-1, 1) - idx.view(1, -1)).clamp_min(0).to(token_rewards.dtype)
    weight = torch.where(idx.view(-1, 1) >= idx.view(1, -1), gamma**power, 0.0)
    return (token_rewards * mask) @ weight * mask


@requires()
def reinforce_pp(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """REINFORCE++ (Hu 2025): token reward-to-go (score minus the per-token KL penalty when the KL sits in the
    reward), whitened over every real token of the batch — no critic, no groups."""
    return whiten(_returns(r.token_rewards, r.mask, p.gamma), r.mask, p.eps), None


@requires("groups")
def reinforce_pp_baseline(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """REINFORCE++-baseline: subtract the group mean from each score first, then as :func:`reinforce_pp`."""
    g = r.grouped()
    shift = g.mean(1, keepdim=True).expand_as(g).flatten()  # (n,) each row's group mean
    last = _last_token(r.mask)
    token_rewards = r.token_rewards - shift.unsqueeze(-1) * last
    return whiten(_returns(token_rewards, r.mask, p.gamma), r.mask, p.eps), None


def _last_token(mask: Tensor) -> Tensor:
    """``n x T`` one-hot of each row's last real token."""
    nxt = torch.cat([mask[:, 1:], torch.zeros_like(mask[:, :1])], dim=1)
    return mask * (1 - nxt)


@requires("groups")
def bnpo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """BNPO (Xiao et al. 2025): ``(r_i - p_q) / f(p_q; alpha, beta)`` with ``p_q`` the group mean and ``f`` a
    Beta density whose parameters ``alpha = 1 + a/3``, ``beta = 1 + b/3`` follow the method-of-moments Beta fit
    ``(a, b)`` of the batch's ``p_q`` (for rewards in [0, 1])."""
    g = r.grouped()
    pq = g.mean(1, keepdim=True).clamp(p.eps, 1 - p.eps)  # (G, 1)
    mu, var = pq.mean(), pq.var(unbiased=False).clamp_min(p.eps)
    common = (mu * (1 - mu) / var - 1).clamp_min(p.eps)
    alpha, beta = 1 + mu * common / 3, 1 + (1 - mu) * common / 3
    log_density = (
        (alpha - 1) * pq.log()
        + (beta - 1) * torch.log1p(-pq)
        - (torch.lgamma(alpha) + torch.lgamma(beta) - torch.lgamma(alpha + beta))
    )
    adv = (g - pq) / log_density.exp()
    return _broadcast(adv.flatten(), r.mask), None


@requires("groups")
def ngrpo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """NGRPO (Nan et al. 2025) advantage calibration: group mean and std computed with one virtual sample of
    reward ``max_reward`` added, so a group that is all wrong still gets negative advantages."""
    g = r.grouped()
    virtual = torch.full_like(g[:, :1], p.max_reward)
    aug = torch.cat([g, virtual], dim=1)
    adv = (g - aug.mean(1, keepdim=True)) / (aug.std(1, keepdim=True) + p.eps)
    return _broadcast(adv.flatten(), r.mask), None
