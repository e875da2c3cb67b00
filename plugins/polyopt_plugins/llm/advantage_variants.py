"""Advantage estimators of later group policy-gradient papers, each a few lines against the public
:class:`~polyopt.components.Rollout` (kind ``advantage``; see :mod:`polyopt_plugins.llm.advantage` for GRPO,
RLOO, ReMax, GAE, ...).

Estimators built for binary rewards count a completion as a success when its combined score is at least the
option ``threshold`` (default ``AdvantageParams.max_reward``, 1: a right answer of the builtin tasks scores 1
plus partial credit, a wrong one at most 0.5).
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import AdvantageParams, Rollout, requires
from polyopt.policy_gradient import generalized_advantage
from polyopt_plugins.llm.advantage import grpo, whiten

__all__ = ["qae", "mapo", "pass_at_k", "s_grpo", "decoupled_gae", "score", "aapo"]


def _successes(g: Tensor, p: AdvantageParams) -> Tensor:
    """``G x k`` 1.0 where a completion succeeded."""
    return (g >= float(p.options.get("threshold", p.max_reward))).to(g.dtype)


def _log_comb(n: Tensor, r: Tensor) -> Tensor:
    """``log C(n, r)`` elementwise (``-inf`` where ``r > n``)."""
    value = torch.lgamma(n + 1) - torch.lgamma(r + 1) - torch.lgamma((n - r).clamp_min(0) + 1)
    return torch.where(r > n, float("-inf"), value)


@requires("groups")
def qae(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """QAE (Wu et al. 2025, "Quantile Advantage Estimation for Entropy-Safe Reasoning"): the group mean
    baseline replaced by the group's ``quantile``-quantile (0.4, the lower sample), divided by the group std
    as in GRPO: on hard prompts only successes are credited, on easy ones only failures are penalized."""
    g = r.grouped()
    q = float(p.options.get("quantile", 0.4))
    base = torch.quantile(g, q, dim=1, keepdim=True, interpolation="lower")
    return r.broadcast((g - base) / (g.std(1, keepdim=True) + p.eps)), None


@requires("groups")
def mapo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """MAPO (Huang et al. 2025, "MAPO: Mixed Advantage Policy Optimization"): with the group's success rate
    ``q`` and ``lam = 1 - 4 q (1 - q)``, ``(1 - lam) (r - mu) / sigma + lam (r - mu) / mu`` — near-certain
    groups use the advantage percent deviation instead of the std-normalized one."""
    g = r.grouped()
    mean, std = g.mean(1, keepdim=True), g.std(1, keepdim=True)
    q = _successes(g, p).mean(1, keepdim=True)
    lam = 1 - 4 * q * (1 - q)
    centered = g - mean
    adv = (1 - lam) * centered / (std + p.eps) + lam * centered / mean.clamp_min(p.eps)
    return r.broadcast(adv), None


@requires("groups")
def pass_at_k(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """Pass@k advantages (Chen et al. 2025, "Pass@k Training for Adaptively Balancing Exploration and
    Exploitation of Large Reasoning Models"), analytically over every ``k``-subset of the group (option
    ``k``, 4): with ``N`` completions, ``N-`` failures and group reward ``R = 1 - C(N-, k) / C(N, k)``,
    successes get ``(1 - R) / sigma`` and failures ``(1 - R - C(N- - 1, k - 1) / C(N - 1, k - 1)) / sigma``,
    ``sigma = sqrt(R (1 - R))``."""
    g = _successes(r.grouped(), p)
    n = torch.full_like(g[:, :1], g.shape[1])
    k = torch.full_like(n, min(int(p.options.get("k", 4)), g.shape[1]))
    fails = n - g.sum(1, keepdim=True)
    reward = 1 - torch.exp(_log_comb(fails, k) - _log_comb(n, k))
    sigma = (reward * (1 - reward)).sqrt()
    fail_term = torch.exp(_log_comb(fails - 1, k - 1) - _log_comb(n - 1, k - 1))
    adv = torch.where(g > 0, 1 - reward, 1 - reward - fail_term) / (sigma + p.eps)
    return r.broadcast(torch.where(sigma > 0, adv, 0.0)), None


@requires("groups")
def s_grpo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """S-GRPO (Shen et al. 2025, "Mitigating Think-Answer Mismatch in LLM Reasoning Through Noise-Aware
    Advantage Reweighting"): GRPO's advantages times the group weight ``w* = (1 - 2 rho) t (1 - t) /
    (sqrt(q (1 - q)) sqrt(t (1 - t)))`` for a reward flip rate ``rho`` (option ``noise``, 0.1), with ``q`` the
    observed success rate and ``t = clip((q - rho) / (1 - 2 rho), 0, 1)`` its noise-corrected estimate."""
    g = r.grouped()
    rho = float(p.options.get("noise", 0.1))
    q = _successes(g, p).mean(1, keepdim=True)
    t = ((q - rho) / (1 - 2 * rho)).clamp(0.0, 1.0)
    weight = (
        (1 - 2 * rho) * t * (1 - t) / ((q * (1 - q) + 1e-8).sqrt() * (t * (1 - t) + 1e-8).sqrt())
    )
    adv = (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True) + p.eps) * weight
    return r.broadcast(adv), None


@requires("values")
def decoupled_gae(r: Rollout, p: AdvantageParams) -> tuple[Tensor, Tensor]:
    """Decoupled GAE of VC-PPO/VAPO (Yuan et al. 2025, "What's Behind PPO's Collapse in Long-CoT? Value
    Optimization Holds the Secret"; Yue et al. 2025, "VAPO: Efficient and Reliable Reinforcement Learning for
    Advanced Reasoning Tasks"): value targets with ``lam_critic`` (1: unbiased Monte-Carlo returns) and
    advantages with the config's ``lam``, or with VAPO's length-adaptive ``1 - 1 / (alpha l)`` per
    completion of ``l`` tokens when the option ``alpha`` is set (VAPO used 0.05)."""
    assert r.values is not None
    values = r.values * r.mask
    boot = torch.cat([values, torch.zeros_like(values[:, :1])], dim=1).T  # (T + 1, n)
    rewards = (r.token_rewards * r.mask).T
    lam: float | Tensor = p.lam
    if "alpha" in p.options:
        length = r.mask.sum(-1).clamp_min(1.0)
        lam = (1 - 1 / (float(p.options["alpha"]) * length)).clamp(0.0, 1.0)
    actor = generalized_advantage(rewards, boot, p.gamma, lam).T * r.mask
    critic = generalized_advantage(rewards, boot, p.gamma, float(p.options.get("lam_critic", 1.0)))
    return whiten(actor, r.mask, p.eps), (critic.T + values) * r.mask


@requires()
def score(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """The completion's own score on every token (no baseline): the base for an ``advantage_shaping`` that
    keeps its own baseline across steps (``spo``, ``dcpo-sas``), or plain REINFORCE."""
    return r.broadcast(r.scores), None


@requires("groups", "ref_scores")
def aapo(r: Rollout, p: AdvantageParams) -> tuple[Tensor, None]:
    """AAPO (Xiong et al. 2025, "AAPO: Enhancing the Reasoning Capabilities of LLMs with Advantage
    Momentum"): the GRPO advantage plus the advantage momentum ``clip(r_i - r_ref_i, -low, high)``, each
    completion's reward gain over a completion the reference policy (the trainer's frozen initial model, in
    its state_dict) sampled for the same prompt; options ``low`` (0.2) and ``high`` (0.28) as in the
    authors' code. The paper's cross-entropy loss ``-A log pi`` is the default ``ppo-clip`` at
    ``update_epochs=1`` (same gradient), averaged over tokens (``loss_aggregation=token-mean``)."""
    assert r.ref_scores is not None
    adv, _ = grpo(r, p)
    low, high = float(p.options.get("low", 0.2)), float(p.options.get("high", 0.28))
    return adv + r.broadcast((r.scores - r.ref_scores).clamp(-low, high)), None


aapo.ragged_groups = True  # type: ignore[attr-defined]  # through grpo
