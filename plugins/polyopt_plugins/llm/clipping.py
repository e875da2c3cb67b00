"""Clip ranges: ``clip_range(ctx) -> (low, high)``, the ratio kept in ``[1 - low, 1 + high]`` (kind
``clip_range``).

``fixed`` returns the configured ``clip_low``/``clip_high``; the others set a range per token from the
token's old probability (DCPO), its entropy (Archer-style dual-token clipping) or the batch's balance of
positive and negative contributions (BAPO). Pair asymmetric ranges with ``clip-higher`` (``ppo-clip`` reads
``low`` only). On-policy with one update epoch every ratio is 1: clipping acts on stale samples only.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import ClipContext

__all__ = ["fixed", "dcpo", "entropy_clip", "bapo"]


def fixed(ctx: ClipContext) -> tuple[float | Tensor, float | Tensor]:
    """The configured ``clip_low`` and ``clip_high`` (the default)."""
    return ctx.params.clip_low, ctx.params.clip_high


def dcpo(ctx: ClipContext) -> tuple[float | Tensor, float | Tensor]:
    """Dynamic-adaptive clipping of DCPO (Yang et al. 2025, "DCPO: Dynamic Clipping Policy Optimization"):
    bounds from the token's old probability ``q``, ``0.5 + 0.5 sqrt(max(1 - 4 eps_low / q, 0)) <= r <= 0.5 +
    0.5 sqrt(1 + 4 eps_high / q)``, so rare tokens may move further; the upper bound is capped at ``max_ratio``
    (10). ``eps_low``/``eps_high`` are ``clip_low``/``clip_high`` (DCPO used 0.16 and 0.2)."""
    q = ctx.old_logp.exp().clamp_min(1e-6)
    eps_low, eps_high = ctx.params.clip_low, ctx.params.clip_high
    lower = 0.5 + 0.5 * torch.sqrt((1 - 4 * eps_low / q).clamp_min(0.0))
    upper = (0.5 + 0.5 * torch.sqrt(1 + 4 * eps_high / q)).clamp_max(
        float(ctx.params.options.get("max_ratio", 10.0))
    )
    return 1 - lower, upper - 1


def entropy_clip(ctx: ClipContext) -> tuple[float | Tensor, float | Tensor]:
    """Dual-token clipping after Archer (Wang et al. 2025, "Stabilizing Knowledge, Promoting Reasoning:
    Dual-Token Constraints for RLVR"): tokens whose sampling entropy is in the batch's top ``1 - quantile``
    (0.8 quantile) get the wide range ``wide`` (0.5); the others keep ``clip_low``/``clip_high``."""
    quantile = float(ctx.params.options.get("quantile", 0.8))
    wide = float(ctx.params.options.get("wide", 0.5))
    real = ctx.entropy[ctx.mask > 0]
    cut = torch.quantile(real, quantile) if real.numel() else ctx.entropy.new_tensor(0.0)
    high_entropy = ctx.entropy > cut
    low = torch.where(high_entropy, wide, torch.as_tensor(ctx.params.clip_low)).to(ctx.ratio)
    high = torch.where(high_entropy, wide, torch.as_tensor(ctx.params.clip_high)).to(ctx.ratio)
    return low, high


def bapo(ctx: ClipContext) -> tuple[float | Tensor, float | Tensor]:
    """Adaptive asymmetric clipping of BAPO (Xi et al. 2025, "BAPO: Stabilizing Off-Policy Reinforcement
    Learning for LLMs via Balanced Policy Optimization with Adaptive Clipping"): the ratio bounds start at
    ``[0.6, 1.2]`` and move up together (lower by 0.02 to at most 0.9, upper by 0.05 to at most 3.0) until the
    tokens with positive advantage carry at least ``rho`` (0.4) of the clipped loss's magnitude."""
    o = ctx.params.options
    rho, steps = float(o.get("rho", 0.4)), int(o.get("steps", 16))
    j = torch.arange(steps + 1, dtype=ctx.ratio.dtype, device=ctx.ratio.device).view(-1, 1, 1)
    lower = (float(o.get("low_min", 0.6)) + 0.02 * j).clamp_max(float(o.get("low_max", 0.9)))
    upper = (float(o.get("high_min", 1.2)) + 0.05 * j).clamp_max(float(o.get("high_max", 3.0)))
    r, a, m = ctx.ratio.unsqueeze(0), ctx.adv.unsqueeze(0), ctx.mask.unsqueeze(0)
    surrogate = torch.minimum(r * a, torch.minimum(torch.maximum(r, lower), upper) * a) * m
    positive = (surrogate * (a > 0)).abs().sum((1, 2))
    share = positive / surrogate.abs().sum((1, 2)).clamp_min(1e-12)  # (steps + 1,)
    ok = (share >= rho).nonzero()
    pick = int(ok[0, 0]) if ok.numel() else steps
    return float(1 - lower[pick]), float(upper[pick] - 1)
