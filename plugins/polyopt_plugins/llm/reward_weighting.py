"""Reward weights of the policy-gradient trainer: static, or dynamic during training (the ``reward_weighting``
kind; after Lu et al. 2025, "Learning to Optimize Multi-Objective Alignment Through Dynamic Reward Weighting").

Both dynamic weightings take an exponentiated-gradient step on the simplex, ``w_j <- w_j exp(lr g_j)`` with
``g`` scaled to at most 1 in magnitude, then mix in ``floor`` of the static weights (no reward is switched off for
good) and rescale to the static weights' sum:

- ``hypervolume``: ``g_j`` is the hypervolume gain of improving this step's mean reward vector along reward ``j``
  (finite differences of the hypervolume of it and the earlier steps' vectors, each reward in units of its range
  so far; the reference point is the worst vector seen, less a tenth of the range). A reward along which the
  front would grow most gains weight; while the steps are dominated (no gain anywhere) the weights relax back
  toward the static ones.
- ``gradient``: ``g_j`` is reward ``j``'s influence on the combined update, ``<a_j, sum_k w_k a_k> / n`` with
  ``a_j`` its group-normalized advantages — the gradient of the policy-gradient surrogate with respect to the
  completions' log-probabilities, so per-reward gradients cost no extra backward pass (the parameter-space
  inner products the paper uses would need ``m``). A reward whose groups carry no spread (saturated, or out of
  reach) has no influence and loses weight to the rewards that still teach something.

Options (``reward_weighting_options``): ``lr`` (step size, default 0.5), ``floor`` (share of the static weights
mixed back in, default 0.1).
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import WeightingContext
from polyopt.metrics import hypervolume

__all__ = ["gradient", "hypervolume_guided", "static"]


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


def gradient(ctx: WeightingContext) -> Tensor:
    """Weights moved toward the rewards with the most influence on the combined update."""
    m = ctx.rewards.shape[1]
    g = ctx.rewards.view(ctx.n_groups, -1, m).to(ctx.base.dtype)  # (G, k, m)
    adv = (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True).nan_to_num(0.0) + 1e-6)
    adv = adv.reshape(-1, m)  # (n, m) per-reward surrogate gradients in log-probability space
    influence = adv.T @ (adv @ ctx.weights) / adv.shape[0]  # (m,)
    return _step(ctx, influence)
