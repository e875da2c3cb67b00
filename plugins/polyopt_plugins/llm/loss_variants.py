"""Policy losses of later papers, each a few lines against the public ``policy_loss`` protocol (see
:mod:`polyopt_plugins.llm.policy_loss` for PPO clip, clip-higher, dual-clip, GSPO, REINFORCE).

Sequence-level losses (GMPO, REBEL, GVPO, CoPG) put each completion's loss on every one of its tokens, so the
default ``seq-mean-token-mean`` aggregation gives their mean over completions. Losses
over a group (``requires("groups")``) see whole groups of ``params.group_size`` rows; those against the
reference (``requires("ref_logp")``) read ``params.ref_logp``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import LossParams, requires

__all__ = ["gmpo", "apa", "mdpo", "rebel", "gvpo", "copg", "opmd", "asymre"]


def _need(value: Tensor | None, what: str, loss: str) -> Tensor:
    if value is None:
        raise ValueError(
            f"policy loss {loss!r} needs params.{what}; run it in a trainer that provides it "
            "(the language-model trainer does for losses that declare it with requires)"
        )
    return value


def _length(mask: Tensor) -> Tensor:
    return mask.sum(-1).clamp_min(1.0)  # (n,)


def _per_seq(adv: Tensor, mask: Tensor) -> Tensor:
    """``n`` the completion's advantage (the mean over its tokens)."""
    return (adv * mask).sum(-1) / _length(mask)


def _spread(per_seq: Tensor, mask: Tensor) -> Tensor:
    """``n`` sequence losses on every real token (their per-sequence token mean is the sequence loss)."""
    return per_seq.unsqueeze(-1) * mask


def _centered(x: Tensor, p: LossParams, loss: str) -> Tensor:
    """``n`` values centered within their group of ``params.group_size`` rows."""
    k = p.group_size
    if k < 1 or x.shape[0] % k:
        raise ValueError(
            f"policy loss {loss!r} needs whole groups (params.group_size={k}, {x.shape[0]} rows)"
        )
    g = x.view(-1, k)
    return (g - g.mean(1, keepdim=True)).flatten()


def gmpo(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """GMPO (Zhao et al. 2025, "Geometric-Mean Policy Optimization"): the sequence ratio is the geometric
    mean of the token ratios, each clipped in log space to ``+-clip`` (option, 0.4) on the pessimistic side,
    so a few tokens with extreme ratios cannot dominate; loss ``-A exp(mean_t clipped log ratio)``."""
    c = float(p.options.get("clip", 0.4))
    sign = torch.sign(_per_seq(adv, mask)).unsqueeze(-1)  # (n, 1)
    signed = (logp - old_logp) * sign
    clipped = torch.minimum(signed, signed.clamp(-c, c)) * mask
    ratio = torch.exp(sign.squeeze(-1) * clipped.sum(-1) / _length(mask))
    return _spread(-_per_seq(adv, mask) * ratio, mask)


@requires("ref_logp")
def apa(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """APA (Zhu et al. 2023, "Fine-Tuning Language Models with Advantage-Induced Policy Alignment"): the
    squared error between the log-ratio to the reference and the scaled advantage,
    ``(log pi - log pi_ref - A / lam)^2`` per token (option ``lam``, 1)."""
    ref = _need(p.ref_logp, "ref_logp", "apa")
    lam = float(p.options.get("lam", 1.0))
    return (logp - ref - adv / lam) ** 2 * mask


def mdpo(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """MDPO (Tomar et al. 2020, "Mirror Descent Policy Optimization"): the importance-weighted surrogate plus
    ``1 / t`` (option ``kl``, 1) times ``KL(pi || pi_old)``, estimated from the old policy's samples as
    ``r log r - r + 1``; no clipping — the KL keeps several epochs near the sampling policy."""
    log_ratio = logp - old_logp
    ratio = torch.exp(log_ratio)
    kl = ratio * log_ratio - ratio + 1
    return (-ratio * adv + float(p.options.get("kl", 1.0)) * kl) * mask


@requires("groups")
def rebel(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """REBEL (Gao et al. 2024, "REBEL: Reinforcement Learning via Regressing Relative Rewards"): regress the
    difference of two completions' log-ratios to the sampling policy, over ``eta`` (option, 1), onto the
    difference of their rewards; over all pairs of a group this is ``((s_i - mean s) / eta - (A_i - mean
    A))^2 / 2`` with ``s`` the sequence log-ratio and ``A`` the advantage (pair with ``dr-grpo``: ``r - mean``)."""
    eta = float(p.options.get("eta", 1.0))
    s = _centered(((logp - old_logp) * mask).sum(-1), p, "rebel")
    a = _centered(_per_seq(adv, mask), p, "rebel")
    return _spread(0.5 * (s / eta - a) ** 2, mask)


@requires("groups", "ref_logp")
def gvpo(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """GVPO (Zhang et al. 2025, "GVPO: Group Variance Policy Optimization for Large Language Model
    Post-Training"): the squared error between the centered implicit reward ``beta log(pi / pi_ref)`` of the
    group's completions and their centered reward (option ``beta``, 0.1; pair with ``dr-grpo``)."""
    beta = float(p.options.get("beta", 0.1))
    ref = _need(p.ref_logp, "ref_logp", "gvpo")
    s = _centered(((logp - ref) * mask).sum(-1), p, "gvpo")
    a = _centered(_per_seq(adv, mask), p, "gvpo")
    return _spread((beta * s - a) ** 2, mask)


@requires("groups", "ref_logp")
def copg(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """CoPG (Flet-Berliac et al. 2024, "Contrastive Policy Gradient: Aligning LLMs on sequence-level scores in
    a supervised-friendly fashion"): over all pairs of a group, the gradient ``(R^b(y) - R^b(y'))
    grad(log pi(y) - log pi(y'))`` of the KL-regularized reward ``R^b = R - beta log(pi / pi_ref)`` (option
    ``beta``, 0.1); as a loss ``-(A_i - mean A) log pi(y_i) + beta (s_i - mean s)^2 / 2``."""
    beta = float(p.options.get("beta", 0.1))
    ref = _need(p.ref_logp, "ref_logp", "copg")
    seq_logp = (logp * mask).sum(-1)
    s = _centered(((logp - ref) * mask).sum(-1), p, "copg")
    a = _centered(_per_seq(adv, mask), p, "copg")
    return _spread(-a * seq_logp + 0.5 * beta * s**2, mask)


def opmd(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """Online policy mirror descent as a regularized REINFORCE for stale samples (Kimi Team 2025, "Kimi k1.5:
    Scaling Reinforcement Learning with LLMs"; Yao et al. 2025, "Group-relative REINFORCE is Secretly an
    Off-Policy Algorithm"): ``-A log pi + tau / 2 (log pi - log pi_old)^2`` per token (option ``tau``, 0.1),
    no importance ratio."""
    tau = float(p.options.get("tau", 0.1))
    return (-adv * logp + 0.5 * tau * (logp - old_logp) ** 2) * mask


def asymre(logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, p: LossParams) -> Tensor:
    """AsymRE (Arnal et al. 2025, "Asymmetric REINFORCE for off-Policy Reinforcement Learning: Balancing
    positive and negative rewards"): REINFORCE with a baseline ``delta`` (option, 0.1) below the value, i.e.
    ``-(A + delta) log pi`` on real tokens — positive samples outweigh negative ones, which keeps off-policy
    updates stable; no importance ratio."""
    delta = float(p.options.get("delta", 0.1))
    return -(adv + delta) * logp * mask
