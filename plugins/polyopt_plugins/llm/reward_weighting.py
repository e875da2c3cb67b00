"""Reward weights of the policy-gradient trainer: static, or dynamic during training (the ``reward_weighting``
kind; after Lu et al. 2025, "Learning to Optimize Multi-Objective Alignment Through Dynamic Reward Weighting").

``hypervolume``, ``gradient`` and ``advantage-influence`` take an exponentiated-gradient step on the simplex,
``w_j <- w_j exp(lr g_j)`` with ``g`` scaled to at most 1 in magnitude, then mix in ``floor`` of the static weights
(no reward is switched off for good) and rescale to the static weights' sum:

- ``hypervolume``: ``g_j`` is the hypervolume gain of improving this step's mean reward vector along reward ``j``
  (finite differences of the hypervolume of it and the earlier steps' vectors, each reward in units of its range
  so far; the reference point is the worst vector seen, less a tenth of the range). A reward along which the
  front would grow most gains weight; while the steps are dominated (no gain anywhere) the weights relax back
  toward the static ones.
- ``gradient`` (the paper's gradient-based weights): ``g_j = <grad_j, sum_k w_k grad_k>``, reward ``j``'s
  influence on the combined update, with ``grad_j`` the policy gradient of reward ``j``'s group-centred rewards
  with respect to the policy's parameters (``WeightingContext.policy_gradients``: one forward and ``m`` backward
  passes a step; option ``params="head"`` uses the output layer's weight only, a cheaper proxy). Because the
  trainer scales raw rewards, ``sum_k w_k grad_k`` is the direction it takes (up to GRPO's per-group scale).
- ``advantage-influence`` (this module's ``gradient`` before 2026-12-03): the same influence with every
  completion's log-probability gradient taken as orthogonal to the others' and of unit norm, i.e. inner products
  of per-reward group-normalized advantages, ``<a_j, sum_k w_k a_k> / n``; no extra forward or backward pass, but
  blind to rewards that pull shared parameters the same or opposite ways. A reward without spread loses weight.

``mgda`` (Désidéri 2012; Sener and Koltun 2018) moves the weights toward the min-norm point of the convex hull of
the per-reward policy gradients (Frank-Wolfe on their Gram matrix): the combination whose direction improves every
reward at first order as much as possible; ``w <- (1 - rate) w + rate * target`` with ``floor`` of the static
weights mixed into the target. Where the rewards' gradients conflict it favours the one with the smaller gradient.

Options (``reward_weighting_options``): ``lr`` (step size, default 0.5), ``floor`` (share of the static weights
mixed back in, default 0.1), ``params`` (``gradient``/``mgda``: ``"trainable"``, default, or ``"head"``),
``standardize`` (``gradient``/``mgda``: divide each reward by its group's std first, as
``reward_normalization="per-reward"`` does; default False), ``rate`` (``mgda``: default 0.5).
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import WeightingContext
from polyopt.metrics import hypervolume

__all__ = ["advantage_influence", "gradient", "hypervolume_guided", "mgda", "static"]


def static(ctx: WeightingContext) -> Tensor:
    """The configured weights, every step."""
    return ctx.base.clone()


def _step(ctx: WeightingContext, g: Tensor) -> Tensor:
    """Exponentiated-gradient step from the previous weights, ``floor`` of the static ones mixed back in."""
    lr, floor = float(ctx.options.get("lr", 0.5)), float(ctx.options.get("floor", 0.1))
    scale = g.abs().max()
    g = g / scale if float(scale) > 0 else g
    w = ctx.weights.clamp_min(1e-12) * torch.exp(lr * g)
    w = (1 - floor) * w / w.sum() + floor * ctx.base.abs() / ctx.base.abs().sum()
    return w * ctx.base.sum()


def hypervolume_guided(ctx: WeightingContext) -> Tensor:
    """Weights moved toward the rewards along which this step's mean would grow the front's hypervolume most."""
    point = ctx.rewards.mean(0, keepdim=True).to(torch.float64).cpu()  # (1, m)
    pts = torch.cat([ctx.history.to(torch.float64).cpu(), point])  # (s + 1, m), maximized
    span = (pts.max(0).values - pts.min(0).values).clamp_min(1e-6)
    ref = pts.min(0).values - 0.1 * span
    scaled = -(pts - ref) / span  # minimized, the reference point at the origin
    base = hypervolume(scaled, torch.zeros(pts.shape[1], dtype=torch.float64))
    delta = 1e-3
    gains = []
    for j in range(pts.shape[1]):
        moved = scaled.clone()
        moved[-1, j] -= delta  # improve the step's mean along reward j
        gains.append((hypervolume(moved, torch.zeros_like(moved[0])) - base) / delta)
    return _step(ctx, torch.tensor(gains, dtype=ctx.base.dtype, device=ctx.base.device))


def _centred(ctx: WeightingContext, standardize: bool) -> Tensor:
    """``n x m`` each reward minus its group's mean (divided by the group's std with ``standardize``)."""
    m = ctx.rewards.shape[1]
    g = ctx.rewards.view(ctx.n_groups, -1, m).to(ctx.base.dtype)  # (G, k, m)
    adv = g - g.mean(1, keepdim=True)
    if standardize:
        adv = adv / (g.std(1, keepdim=True).nan_to_num(0.0) + 1e-6)
    return adv.reshape(-1, m)


def advantage_influence(ctx: WeightingContext) -> Tensor:
    """Weights moved toward the rewards whose normalized advantages align most with the combined ones."""
    adv = _centred(ctx, standardize=True)  # (n, m) surrogate gradients in log-probability space
    influence = adv.T @ (adv @ ctx.weights) / adv.shape[0]  # (m,)
    return _step(ctx, influence)


def _gram(ctx: WeightingContext) -> Tensor:
    """``m x m`` inner products of the per-reward policy gradients (float64)."""
    if ctx.policy_gradients is None:
        raise ValueError(
            "this reward weighting needs policy gradients, and WeightingContext.policy_gradients is None; "
            "expected a trainer that offers them (the policy-gradient trainer does)"
        )
    scope = str(ctx.options.get("params", "trainable"))
    adv = _centred(ctx, bool(ctx.options.get("standardize", False)))
    grads = ctx.policy_gradients(adv, scope).to(torch.float64)  # (m, P)
    return grads @ grads.T


def gradient(ctx: WeightingContext) -> Tensor:
    """Weights moved toward the rewards whose policy gradients align most with the combined update."""
    gram = _gram(ctx)
    influence = gram @ ctx.weights.to(gram)  # (m,) <grad_j, sum_k w_k grad_k>
    return _step(ctx, influence.to(ctx.base))


def _min_norm(gram: Tensor, iters: int = 64) -> Tensor:
    """``m`` convex weights ``a`` minimizing ``a^T gram a`` (Frank-Wolfe with exact line search)."""
    m = gram.shape[0]
    a = torch.full((m,), 1.0 / m, dtype=gram.dtype, device=gram.device)
    for _ in range(iters):
        d = a - torch.nn.functional.one_hot((gram @ a).argmin(), m).to(gram)  # a moves along -d
        curvature = d @ gram @ d
        if float(curvature) <= 1e-30:
            break
        a = a - (d @ gram @ a / curvature).clamp(0.0, 1.0) * d
    return a


def mgda(ctx: WeightingContext) -> Tensor:
    """Weights moved toward the min-norm combination of the per-reward policy gradients (MGDA)."""
    rate, floor = float(ctx.options.get("rate", 0.5)), float(ctx.options.get("floor", 0.1))
    alpha = _min_norm(_gram(ctx)).to(ctx.base)
    share = ctx.base.abs() / ctx.base.abs().sum()
    target = ((1 - floor) * alpha + floor * share) * ctx.base.sum()
    return (1 - rate) * ctx.weights + rate * target
