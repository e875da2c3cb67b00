"""The WFG toolkit's building blocks (Huband, Hingston, Barone, While 2006), batched over points.

Transformations map ``[0, 1]`` to ``[0, 1]`` elementwise (shift: ``s_*``, bias: ``b_*``) or reduce groups of
variables to one (``r_*``); shapes map the ``n x (M-1)`` position values to ``n x M`` front coordinates. Names
and parameters follow the paper's notation. Results are clamped to ``[0, 1]`` against rounding.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt_envs._common import product_shape

__all__ = [
    "s_linear",
    "s_decept",
    "s_multi",
    "b_flat",
    "b_poly",
    "b_param",
    "r_sum",
    "r_nonsep",
    "concave",
    "convex",
    "linear",
    "mixed",
    "disconnected",
    "suffix_mean",
    "prefix_mean",
]


def _unit(y: Tensor) -> Tensor:
    return y.clamp(0.0, 1.0)


def s_linear(y: Tensor, a: float) -> Tensor:
    """Linear shift: the optimum moves from 0 to ``a``."""
    return _unit((y - a).abs() / (torch.floor(a - y) + a).abs())


def s_decept(y: Tensor, a: float, b: float, c: float) -> Tensor:
    """Deceptive shift: global optimum at ``a`` (width ``b``), deceptive minima at 0 and 1 (value ``c``)."""
    t1 = torch.floor(y - a + b) * (1.0 - c + (a - b) / b) / (a - b)
    t2 = torch.floor(a + b - y) * (1.0 - c + (1.0 - a - b) / b) / (1.0 - a - b)
    return _unit(1.0 + ((y - a).abs() - b) * (t1 + t2 + 1.0 / b))


def s_multi(y: Tensor, a: float, b: float, c: float) -> Tensor:
    """Multi-modal shift: ``a`` minima, hill size ``b``, optimum at ``c``."""
    t = (y - c).abs() / (2.0 * (torch.floor(c - y) + c))
    return _unit(
        (1.0 + torch.cos((4.0 * a + 2.0) * math.pi * (0.5 - t)) + 4.0 * b * t**2) / (b + 2.0)
    )


def b_flat(y: Tensor, a: float, b: float, c: float) -> Tensor:
    """Flat region: values in ``[b, c]`` map to ``a``."""
    low = torch.clamp(torch.floor(y - b), max=0.0) * a * (b - y) / b
    high = torch.clamp(torch.floor(c - y), max=0.0) * (1.0 - a) * (y - c) / (1.0 - c)
    return _unit(a + low - high)


def b_poly(y: Tensor, alpha: float) -> Tensor:
    """Polynomial bias ``y^alpha``."""
    return _unit(y**alpha)


def b_param(
    y: Tensor, u: Tensor, a: float = 0.98 / 49.98, b: float = 0.02, c: float = 50.0
) -> Tensor:
    """Parameter-dependent bias: the exponent of ``y`` depends on ``u`` (same shape as ``y``)."""
    v = a - (1.0 - 2.0 * u) * (torch.floor(0.5 - u) + a).abs()
    return _unit(y ** (b + (c - b) * v))


def r_sum(y: Tensor, w: Tensor | None = None) -> Tensor:
    """Weighted-sum reduction over the last dimension (``w`` broadcasts against ``y``; None: uniform)."""
    if w is None:
        return _unit(y.mean(dim=-1))
    return _unit((y * w).sum(dim=-1) / w.sum(dim=-1))


def r_nonsep(y: Tensor, a: int) -> Tensor:
    """Non-separable reduction of ``... x g`` groups with degree ``a`` (``1 <= a <= g``); returns ``...``."""
    g = y.shape[-1]
    j = torch.arange(g, device=y.device)
    partner = (1 + j.unsqueeze(1) + torch.arange(a - 1, device=y.device)) % g  # g x (a-1)
    pairs = (y.unsqueeze(-1) - y[..., partner]).abs().sum(dim=(-1, -2))
    half = math.ceil(a / 2.0)
    return _unit((y.sum(dim=-1) + pairs) / (g * half * (1.0 + 2.0 * a - 2.0 * half) / a))


def suffix_mean(y: Tensor) -> Tensor:
    """``n x (d-1)``: column ``i`` is the mean of ``y[:, i+1:]``."""
    tail = torch.flip(torch.cumsum(torch.flip(y, [1]), dim=1), [1])[:, 1:]  # sums of y[:, i+1:]
    count = torch.arange(y.shape[1] - 1, 0, -1, device=y.device, dtype=y.dtype)
    return tail / count


def prefix_mean(y: Tensor) -> Tensor:
    """``n x d``: column ``i`` is the mean of ``y[:, :i+1]``."""
    count = torch.arange(1, y.shape[1] + 1, device=y.device, dtype=y.dtype)
    return torch.cumsum(y, dim=1) / count


def concave(x: Tensor) -> Tensor:
    """Concave (spherical) shape: ``n x (M-1)`` -> ``n x M`` on the unit sphere."""
    angle = 0.5 * math.pi * x
    return _unit(product_shape(torch.sin(angle), torch.cos(angle)))


def convex(x: Tensor) -> Tensor:
    """Convex shape: ``n x (M-1)`` -> ``n x M``."""
    angle = 0.5 * math.pi * x
    return _unit(product_shape(1.0 - torch.cos(angle), 1.0 - torch.sin(angle)))


def linear(x: Tensor) -> Tensor:
    """Linear (simplex) shape: ``n x (M-1)`` -> ``n x M`` with rows summing to one."""
    return _unit(product_shape(x, 1.0 - x))


def mixed(x1: Tensor, alpha: float = 1.0, a: float = 5.0) -> Tensor:
    """Mixed convex/concave last coordinate with ``a`` segments (``n`` -> ``n``)."""
    k = 2.0 * a * math.pi
    return _unit((1.0 - x1 - torch.cos(k * x1 + 0.5 * math.pi) / k) ** alpha)


def disconnected(x1: Tensor, alpha: float = 1.0, beta: float = 1.0, a: float = 5.0) -> Tensor:
    """Disconnected last coordinate with ``a`` regions (``n`` -> ``n``)."""
    return _unit(1.0 - x1**alpha * torch.cos(a * math.pi * x1**beta) ** 2)
