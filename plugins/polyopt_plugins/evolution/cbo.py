"""Consensus-based optimization (CBO), tensorized, with anisotropic noise.

Particles drift towards a consensus point, the Gibbs-weighted mean of the swarm, and explore in proportion to
their distance from it (Pinnau, Totzeck, Tse & Martin 2017; anisotropic noise, which keeps the method working
in high dimension, from Carrillo, Jin, Li & Zhu 2021). One proposal is one Euler-Maruyama step:

``v = sum_i x_i exp(-alpha e_i) / sum_i exp(-alpha e_i)`` with ``e = (f - min f) / std(f)``,
``x <- x - lambda dt (x - v) + sigma sqrt(dt) (x - v) * xi`` (anisotropic; ``||x - v|| xi`` isotropic),
``xi ~ N(0, I)``.

Standardizing ``f`` makes ``alpha`` scale-free (the raw exponent of the papers depends on the units of the
objective); ``alpha`` grows by ``alpha_growth`` per step up to ``alpha_max`` (annealing towards the argmin).
Particles that leave the box are projected back. Failed evaluations get weight 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.evolution.base import Generation, GenerationalOptimizer

__all__ = ["CBO", "CBOConfig", "consensus"]


@dataclass
class CBOConfig:
    pop_size: int = 100
    """Particles."""
    alpha: float = 10.0
    """Inverse temperature of the consensus weights, on the standardized objective."""
    alpha_growth: float = 1.02
    """Factor on ``alpha`` per step (1 keeps it constant)."""
    alpha_max: float = 1e4
    """Largest ``alpha`` the growth reaches."""
    drift: float = 1.0
    """Drift rate ``lambda`` towards the consensus point."""
    sigma: float = 1.0
    """Noise scale."""
    dt: float = 0.1
    """Time step of the Euler-Maruyama update."""
    anisotropic: bool = True
    """Per-coordinate noise ``(x - v) * xi`` (True) or ``||x - v|| xi`` (False, the original CBO)."""

    def __post_init__(self) -> None:
        if self.pop_size < 2:
            raise ValueError(f"pop_size={self.pop_size}; expected at least 2")
        if self.alpha <= 0 or self.alpha_max < self.alpha:
            raise ValueError(
                f"alpha={self.alpha}, alpha_max={self.alpha_max}; expected 0 < alpha <= alpha_max"
            )
        if self.alpha_growth < 1:
            raise ValueError(f"alpha_growth={self.alpha_growth}; expected >= 1")
        if self.drift <= 0 or self.sigma < 0 or self.dt <= 0:
            raise ValueError(
                f"drift={self.drift}, sigma={self.sigma}, dt={self.dt}; "
                "expected drift > 0, sigma >= 0, dt > 0"
            )


def consensus(x: Tensor, f: Tensor, alpha: float) -> Tensor:
    """The Gibbs-weighted mean of ``x`` (``n x d``) under ``f`` (``n``, ``+inf`` = weight 0), ``d``.

    ``f`` is standardized first (``(f - min) / std`` over the finite values); the weights are a softmax, so
    large ``alpha`` does not overflow.
    """
    finite = torch.isfinite(f)
    safe = torch.where(finite, f, torch.zeros_like(f))
    count = finite.sum().clamp_min(1)
    mean = safe.sum() / count
    std = (torch.where(finite, safe - mean, torch.zeros_like(f)).pow(2).sum() / count).sqrt()
    lowest = torch.where(finite, f, torch.full_like(f, math.inf)).min()
    e = (f - lowest) / std.clamp_min(1e-30)
    logits = torch.where(finite, -alpha * e, torch.full_like(f, -math.inf))
    # every value failed: weigh the particles equally rather than divide by zero
    logits = torch.where(finite.any(), logits, torch.zeros_like(f))
    w = torch.softmax(logits, dim=0)
    return w @ x


class CBO(GenerationalOptimizer):
    """Consensus-based optimization on a box (see the module docstring)."""

    Config = CBOConfig
    proposals_in_box = True
    config: CBOConfig

    def init_state(self) -> None:
        n = self.config.pop_size
        self.x = torch.zeros(n, self.dim, **self.like)
        self.f = torch.full((n,), math.inf, **self.like)
        self.alpha = float(self.config.alpha)
        self.placed = False

    def generation_size(self) -> int:
        return self.config.pop_size

    def propose(self) -> Tensor:
        if not self.placed:
            self.x = self.uniform(self.config.pop_size)
            self.placed = True
            return self.x
        c = self.config
        v = consensus(self.x, self.f, self.alpha)
        diff = self.x - v  # (n, d)
        xi = torch.randn(self.x.shape, generator=self.generator, **self.like)
        if c.anisotropic:
            noise = diff * xi
        else:
            noise = diff.norm(dim=1, keepdim=True) * xi
        x = self.x - c.drift * c.dt * diff + c.sigma * math.sqrt(c.dt) * noise
        self.x = self.project(x)
        self.alpha = min(c.alpha_max, self.alpha * c.alpha_growth)
        return self.x

    def advance(self, generation: Generation) -> None:
        rows, tag = generation.best_rows()
        self.x[tag] = generation.x[rows]
        self.f[tag] = generation.f[rows]

    def algorithm_metrics(self) -> dict[str, float]:
        return {"alpha": self.alpha}

    def algorithm_state(self) -> dict[str, Any]:
        return {"x": self.x, "f": self.f, "alpha": self.alpha, "placed": self.placed}

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        self.x = state["x"]
        self.f = state["f"]
        self.alpha = float(state["alpha"])
        self.placed = bool(state["placed"])
