"""Advantage shaping: ``shape(adv, ctx) -> n x T`` after the estimator (kind ``advantage_shaping``).

Entropy-aware advantages read ``ctx.entropy`` (the sampling distribution's per-token entropy, which the
sampler records at no extra forward); baselines kept across steps live in ``ctx.state`` (saved with the
trainer, so a resumed run continues exactly). ``none`` returns the advantages unchanged.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import StepContext

__all__ = ["none", "entropy_advantage", "edge", "dcpo_sas", "spo"]


def none(adv: Tensor, ctx: StepContext) -> Tensor:
    """The estimator's advantages, unchanged (the default)."""
    return adv


def entropy_advantage(adv: Tensor, ctx: StepContext) -> Tensor:
    """Entropy-based advantage (Cheng et al. 2025, "Reasoning with Exploration: An Entropy Perspective"):
    ``A_t + min(alpha H_t, |A_t| / kappa)`` with the token's (detached) entropy ``H_t``; the clip keeps the
    bonus from flipping an advantage's sign. Options ``alpha`` (0.4) and ``kappa`` (2)."""
    alpha = float(ctx.params.options.get("alpha", 0.4))
    kappa = float(ctx.params.options.get("kappa", 2.0))
    bonus = torch.minimum(alpha * ctx.entropy, adv.abs() / kappa)
    return (adv + bonus) * ctx.rollout.mask


def edge(adv: Tensor, ctx: StepContext) -> Tensor:
    """Entropy-driven advantage of EDGE-GRPO (Zhang et al. 2025, "EDGE-GRPO: Entropy-Driven GRPO with Guided
    Error Correction for Advantage Diversity"): each completion's advantage divided by its mean token
    entropy normalized by its group's mean, so confident completions get larger updates."""
    mask = ctx.rollout.mask
    per_seq = (ctx.entropy * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)  # (n,)
    grouped = per_seq.view(ctx.rollout.n_groups, -1)
    normalized = grouped / grouped.mean(1, keepdim=True).clamp_min(ctx.params.eps)
    return adv / normalized.reshape(-1, 1).clamp_min(ctx.params.eps) * mask


def dcpo_sas(adv: Tensor, ctx: StepContext) -> Tensor:
    """Smooth advantage standardization of DCPO (Yang et al. 2025, "DCPO: Dynamic Clipping Policy
    Optimization"): each prompt's rewards standardized by this step's group and by every reward it has had,
    mixed by how often it was seen (``i``-th visit: ``SA_new = (i-1)/i A_new + A_total/i``, ``SA_total =
    A_new/i + (i-1)/i A_total``), taking the smaller in magnitude. Replaces the estimator's advantages."""
    g, r, eps = ctx.rollout.grouped(), ctx.rollout, ctx.params.eps
    seen = ctx.state.setdefault("prompts", {})  # prompt -> [visits, n, sum, sum of squares]
    rows = []
    for i, prompt in enumerate(ctx.prompts):
        group = g[i]
        if i < ctx.n_fresh:
            visits, n, total, squares = seen.get(prompt, [0, 0, 0.0, 0.0])
            seen[prompt] = [visits + 1, n + group.numel(), total + float(group.sum()),
                            squares + float((group**2).sum())]  # fmt: skip
        visits, n, total, squares = seen.get(prompt, [1, group.numel(), float(group.sum()),
                                                      float((group**2).sum())])  # fmt: skip
        mean = total / n
        std = max(squares / n - mean**2, 0.0) ** 0.5
        a_new = (group - group.mean()) / (group.std() + eps)
        a_total = (group - mean) / (std + eps)
        sa_new = (visits - 1) / visits * a_new + a_total / visits
        sa_total = a_new / visits + (visits - 1) / visits * a_total
        rows.append(torch.where(sa_new.abs() < sa_total.abs(), sa_new, sa_total))
    return r.broadcast(torch.cat(rows))


def spo(adv: Tensor, ctx: StepContext) -> Tensor:
    """Persistent value tracker of single-stream policy optimization (Xu & Ding 2025, "Single-stream Policy
    Optimization"): ``A = r - v(x)`` with ``v(x)`` a discounted mean of the prompt's earlier rewards (the
    mean of SPO's discounted Beta tracker; constant discount ``rho``, 0.9), whitened over the batch; a prompt
    never seen before uses its group's leave-one-out mean. Replaces the estimator's advantages."""
    r, rho = ctx.rollout, float(ctx.params.options.get("rho", 0.9))
    tracker = ctx.state.setdefault(
        "tracker", {}
    )  # prompt -> [discounted reward sum, discounted count]
    g = r.grouped()
    k = g.shape[1]
    loo = (g.sum(1, keepdim=True) - g) / max(k - 1, 1)
    base = torch.stack([
        torch.full_like(g[i], tracker[p][0] / tracker[p][1]) if p in tracker else loo[i]
        for i, p in enumerate(ctx.prompts)
    ])  # fmt: skip
    for i, prompt in enumerate(ctx.prompts[: ctx.n_fresh]):
        total, count = tracker.get(prompt, [0.0, 0.0])
        tracker[prompt] = [rho**k * total + float(g[i].sum()), rho**k * count + k]
    centered = (g - base).flatten()
    return r.broadcast(centered / (centered.std(correction=0) + ctx.params.eps))
