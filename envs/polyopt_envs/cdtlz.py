"""Constrained DTLZ problems (Jain and Deb 2014): C1-DTLZ1, C2-DTLZ2 and C3-DTLZ4.

Options as in :mod:`polyopt_envs.dtlz`; default ``k`` as pymoo's defaults at three objectives (10, 10, 5: 12,
12 and 7 variables). Constraints are feasible when ``g <= 0`` and written as in pymoo.

Pareto fronts (float64):
    C1-DTLZ1 (type 1, the constraint blocks the way but not the front): DTLZ1's front, ``sum f = 0.5``.
    C2-DTLZ2 (type 2, only parts of the front are feasible): Das–Dennis points on the unit sphere that satisfy
        the constraint (more directions are drawn until about ``n`` remain).
    C3-DTLZ4 (type 3, the front lies on the constraint boundaries): Das–Dennis points on the sphere scaled by
        ``1 / sqrt(sum f^2 - 3/4 max f^2)``, which makes the tightest constraint active.

Reference point for hypervolume: ``1.1 x`` the front's nadir (0.55 per objective for C1-DTLZ1, 1.1 for
C2-DTLZ2, about 2.2 for C3-DTLZ4).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt import Evaluation
from polyopt.errors import ConfigError
from polyopt_envs._common import sphere_points
from polyopt_envs.dtlz import DTLZ1, DTLZ2, DTLZ4

__all__ = ["C1DTLZ1", "C2DTLZ2", "C3DTLZ4"]


class C1DTLZ1(DTLZ1):
    """DTLZ1 with one linear constraint ``f_M / 0.6 + sum_{i<M} f_i / 0.5 <= 1`` that cuts the search space."""

    name = "c1-dtlz1"
    default_k = 10
    n_constraints = 1

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x n_var``); returns ``f: n x n_obj`` and ``g: n x 1``."""
        f = super().evaluate(x).f
        g = f[:, -1] / 0.6 + (f[:, :-1] / 0.5).sum(dim=1) - 1.0
        return Evaluation(f=f, g=g.unsqueeze(1))


def c2_constraint(f: Tensor, r: float) -> Tensor:
    """C2-DTLZ2's constraint (``n x M`` -> ``n``): inside a ball of radius ``r`` at a corner or the centre."""
    total = (f**2).sum(dim=1, keepdim=True)
    corner = ((f - 1.0) ** 2 + total - f**2 - r**2).amin(dim=1)  # ball around each axis' unit point
    centre = ((f - 1.0 / math.sqrt(f.shape[1])) ** 2).sum(dim=1) - r**2
    return torch.minimum(corner, centre)


class C2DTLZ2(DTLZ2):
    """DTLZ2 whose feasible front is ``M + 1`` disconnected caps.

    Args:
        n_obj: number of objectives.
        n_var: number of variables.
        k: number of distance variables.
        r: cap radius; default 0.2 (2 objectives), 0.4 (3), 0.5 (more), as in the paper.
    """

    name = "c2-dtlz2"
    n_constraints = 1

    def __init__(
        self, n_obj: int = 3, n_var: int | None = None, k: int | None = None, r: float | None = None
    ) -> None:
        super().__init__(n_obj, n_var, k)
        r = {2: 0.2, 3: 0.4}.get(self.n_objectives, 0.5) if r is None else r
        if not isinstance(r, (int, float)) or r <= 0:
            raise ConfigError(f"r={r!r}; expected a positive radius")
        self.r = float(r)

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x n_var``); returns ``f: n x n_obj`` and ``g: n x 1``."""
        f = super().evaluate(x).f
        return Evaluation(f=f, g=c2_constraint(f, self.r).unsqueeze(1))

    def pareto_front(self, n: int = 1000) -> Tensor:
        want = n
        while True:  # the feasible caps are a fixed fraction of the sphere: grow the lattice until enough remain
            sphere = sphere_points(want, self.n_objectives)
            front = sphere[c2_constraint(sphere, self.r) <= 0]
            if front.shape[0] >= n:
                return front
            want = max(2 * want, int(want * n / max(front.shape[0], 1)))


class C3DTLZ4(DTLZ4):
    """DTLZ4 with ``M`` constraints ``f_i^2 / 4 + sum_{j != i} f_j^2 >= 1``; the front lies on their boundary."""

    name = "c3-dtlz4"
    default_k = 5

    def __init__(
        self, n_obj: int = 3, n_var: int | None = None, k: int | None = None, alpha: float = 100.0
    ) -> None:
        super().__init__(n_obj, n_var, k, alpha)
        self.n_constraints = self.n_objectives

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x n_var``); returns ``f: n x n_obj`` and ``g: n x n_obj``."""
        f = super().evaluate(x).f
        f2 = f**2
        return Evaluation(f=f, g=1.0 - f2 / 4.0 - (f2.sum(dim=1, keepdim=True) - f2))

    def pareto_front(self, n: int = 1000) -> Tensor:
        f = sphere_points(n, self.n_objectives)
        f2 = f**2
        return f / torch.sqrt(f2.sum(dim=1, keepdim=True) - 0.75 * f2.amax(dim=1, keepdim=True))
