"""Particle swarm optimization, tensorized: global or ring (local-best) topology, inertia or constriction.

Every proposal moves all particles once (the first one places them uniformly, with SPSO 2011's velocities
``(U(box) - x) / 2``):

- ``update="inertia"`` (Shi & Eberhart 1998): ``v = w v + c1 r1 (p - x) + c2 r2 (l - x)``;
- ``update="constriction"`` (Clerc & Kennedy 2002): ``v = chi (v + phi1 r1 (p - x) + phi2 r2 (l - x))`` with
  ``chi = 2 / |2 - phi - sqrt(phi^2 - 4 phi)|``, ``phi = phi1 + phi2 > 4``;

where ``p`` is the particle's best, ``l`` the best of its neighbourhood (the swarm's for ``"global"``, itself
and its two ring neighbours for ``"ring"``), ``r1, r2`` uniform per coordinate. Velocities are capped at
``v_max`` times the range; a particle that would leave the box stops on its face with that velocity coordinate
zeroed. Evaluated points update the personal bests of the particles they came from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.evolution.base import Generation, GenerationalOptimizer

__all__ = ["PSO", "PSOConfig"]


@dataclass
class PSOConfig:
    pop_size: int = 100
    """Particles."""
    topology: str = "global"
    """``"global"`` (one swarm best) or ``"ring"`` (each particle's best of itself and two neighbours)."""
    update: str = "inertia"
    """``"inertia"`` or ``"constriction"``."""
    w: float = 0.7298
    """Inertia weight (Clerc's constriction factor as inertia: the same dynamics as the defaults below)."""
    c1: float = 1.49618
    """Cognitive weight (inertia update)."""
    c2: float = 1.49618
    """Social weight (inertia update)."""
    phi1: float = 2.05
    """Cognitive weight inside the constriction (``phi1 + phi2 > 4``)."""
    phi2: float = 2.05
    """Social weight inside the constriction."""
    v_max: float = 0.5
    """Velocity cap per coordinate, as a fraction of its range."""

    def __post_init__(self) -> None:
        if self.pop_size < 2:
            raise ValueError(f"pop_size={self.pop_size}; expected at least 2")
        if self.topology not in ("global", "ring"):
            raise ValueError(f"topology={self.topology!r}; expected 'global' or 'ring'")
        if self.update not in ("inertia", "constriction"):
            raise ValueError(f"update={self.update!r}; expected 'inertia' or 'constriction'")
        if self.update == "constriction" and self.phi1 + self.phi2 <= 4:
            raise ValueError(
                f"phi1 + phi2 = {self.phi1 + self.phi2}; the constriction needs a sum above 4"
            )
        if min(self.c1, self.c2, self.phi1, self.phi2) < 0 or self.w < 0:
            raise ValueError(
                f"w={self.w}, c1={self.c1}, c2={self.c2}, phi1={self.phi1}, phi2={self.phi2}; "
                "expected >= 0"
            )
        if not 0.0 < self.v_max <= 1.0:
            raise ValueError(f"v_max={self.v_max}; expected a fraction of the range in (0, 1]")


class PSO(GenerationalOptimizer):
    """Particle swarm optimization on a box (see the module docstring)."""

    Config = PSOConfig
    proposals_in_box = True
    config: PSOConfig

    def init_state(self) -> None:
        n = self.config.pop_size
        self.x = torch.zeros(n, self.dim, **self.like)
        self.v = torch.zeros(n, self.dim, **self.like)
        self.pbest_x = torch.zeros(n, self.dim, **self.like)
        self.pbest_f = torch.full((n,), math.inf, **self.like)
        self.placed = False

    def generation_size(self) -> int:
        return self.config.pop_size

    def propose(self) -> Tensor:
        if not self.placed:
            self.x = self.uniform(self.config.pop_size)
            self.v = (self.uniform(self.config.pop_size) - self.x) / 2
            self.pbest_x = self.x.clone()
            self.placed = True
            return self.x
        self._move()
        return self.x

    def _neighbourhood_best(self) -> Tensor:
        """``n x d`` (or ``1 x d`` to broadcast): the best personal best each particle sees."""
        if self.config.topology == "global":  # one row, broadcast (no host sync for the index)
            return self.pbest_x.index_select(0, self.pbest_f.argmin().view(1))
        idx = torch.arange(self.pbest_f.shape[0], device=self.device)
        ring = torch.stack([idx.roll(1), idx, idx.roll(-1)], dim=1)  # (n, 3)
        choice = self.pbest_f[ring].argmin(dim=1)
        return self.pbest_x[ring.gather(1, choice.unsqueeze(1)).squeeze(1)]

    def _move(self) -> None:
        c = self.config
        g = self.generator
        n = c.pop_size
        r1 = torch.rand(n, self.dim, generator=g, **self.like)
        r2 = torch.rand(n, self.dim, generator=g, **self.like)
        best = self._neighbourhood_best()
        pbest = (
            self.pbest_x
        )  # a particle whose evaluations all failed is pulled to where it started
        if c.update == "inertia":
            v = c.w * self.v + c.c1 * r1 * (pbest - self.x) + c.c2 * r2 * (best - self.x)
        else:
            phi = c.phi1 + c.phi2
            chi = 2 / abs(2 - phi - math.sqrt(phi * phi - 4 * phi))
            v = chi * (self.v + c.phi1 * r1 * (pbest - self.x) + c.phi2 * r2 * (best - self.x))
        cap = c.v_max * self.width
        v = torch.clamp(v, -cap, cap)
        x = self.x + v
        self.x = self.project(x)
        self.v = torch.where(self.x != x, 0.0, v)  # stopped at a face: no velocity through it

    def advance(self, generation: Generation) -> None:
        if generation.in_order:  # row i is particle i: masks, no indexing
            better = generation.f < self.pbest_f
            self.pbest_x = torch.where(better.unsqueeze(1), generation.x, self.pbest_x)
            self.pbest_f = torch.where(better, generation.f, self.pbest_f)
            return
        rows, tag = generation.best_rows()
        f = generation.f[rows]
        better = f < self.pbest_f[tag]
        self.pbest_x[tag[better]] = generation.x[rows[better]]
        self.pbest_f[tag[better]] = f[better]

    def algorithm_state(self) -> dict[str, Any]:
        return {
            "x": self.x,
            "v": self.v,
            "pbest_x": self.pbest_x,
            "pbest_f": self.pbest_f,
            "placed": self.placed,
        }

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        self.x = state["x"]
        self.v = state["v"]
        self.pbest_x = state["pbest_x"]
        self.pbest_f = state["pbest_f"]
        self.placed = bool(state["placed"])
