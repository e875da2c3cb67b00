"""Classic two-objective constrained problems: BNH, SRN, TNK and OSY (as in Deb 2001 and pymoo).

Constraints are feasible when ``g <= 0`` and scaled as in pymoo (BNH by 1/25 and 1/7.7, OSY by 1/2, 1/6, 1/4),
so values match pymoo exactly; scaling does not change feasibility.

Pareto fronts (float64), from the known Pareto sets:
    BNH: ``x_1 = x_2 in [0, 3]``, then ``x_2 = 3, x_1 in [3, 5]``.
    SRN: ``x_1 = -2.5, x_2 in [2.5, sqrt(225 - 6.25)]`` (up to the circle constraint).
    TNK: the boundary of the first constraint, ``r^2 = 1 + 0.1 cos(16 theta)`` on a dense grid of angles,
        keeping the points that satisfy the second constraint and are non-dominated.
    OSY: the five segments of Deb (2001, Sec. 8.4): ``x_4 = x_6 = 0`` and (AB) ``x = (5, 1, s, 0, 5, 0)``,
        (BC) ``(5, 1, s, 0, 1, 0)``, ``s in [1, 5]``; (CD) ``x_1 in [4.056, 5], x_2 = (x_1 - 2)/3, x_3 = 1,
        x_5 = 1``; (DE) ``(0, 2, s, 0, 1, 0), s in [1, 3.732]``; (EF) ``x_1 in [0, 1], x_2 = 2 - x_1, x_3 = 1,
        x_5 = 1``; evaluated, then filtered for feasibility and non-domination.

Reference point for hypervolume: ``nadir + 0.1 (nadir - ideal)`` of the front.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt_envs._common import non_dominated, ref_from_front, thin

__all__ = ["BNH", "SRN", "TNK", "OSY"]


class _Classic(Objective):
    """Two objectives from a fixed Pareto set: the front is the image of :meth:`_pareto_set`."""

    n_objectives = 2

    def _pareto_set(self, n: int) -> Tensor:
        raise NotImplementedError

    def pareto_front(self, n: int = 1000) -> Tensor:
        """About ``n`` points of the front (``N x 2``, float64, CPU); see the module docstring."""
        ev = self.evaluate(self._pareto_set(n))
        return thin(non_dominated(ev.f[ev.feasible()]), n)

    @property
    def ref_point(self) -> tuple[float, ...]:  # type: ignore[override]
        """``nadir + 0.1 (nadir - ideal)`` of the front (computed once per problem class: they take no
        options)."""
        cls = type(self)
        if cls not in _REF_POINTS:
            _REF_POINTS[cls] = ref_from_front(self.pareto_front(2000))
        return _REF_POINTS[cls]


_REF_POINTS: dict[type, tuple[float, ...]] = {}


def _lin(lo: float, hi: float, n: int) -> Tensor:
    return torch.linspace(lo, hi, max(n, 2), dtype=torch.float64)


class BNH(_Classic):
    """Binh and Korn: two quadratic objectives, two circle constraints, ``x in [0, 5] x [0, 3]``."""

    name = "bnh"
    n_constraints = 2

    def __init__(self) -> None:
        self.space = Box([0.0, 0.0], [5.0, 3.0])

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x 2``); returns ``f: n x 2`` and ``g: n x 2``."""
        x1, x2 = x[:, 0], x[:, 1]
        f = torch.stack([4 * x1**2 + 4 * x2**2, (x1 - 5) ** 2 + (x2 - 5) ** 2], dim=1)
        g1 = ((x1 - 5) ** 2 + x2**2 - 25) / 25
        g2 = -((x1 - 8) ** 2 + (x2 + 3) ** 2 - 7.7) / 7.7
        return Evaluation(f=f, g=torch.stack([g1, g2], dim=1))

    def _pareto_set(self, n: int) -> Tensor:
        s = _lin(0.0, 5.0, n)
        return torch.stack([s, s.clamp(max=3.0)], dim=1)


class SRN(_Classic):
    """Srinivas and Deb: quadratic objectives, a circle and a linear constraint, ``x in [-20, 20]^2``."""

    name = "srn"
    n_constraints = 2

    def __init__(self) -> None:
        self.space = Box(-20.0, 20.0, dim=2)

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x 2``); returns ``f: n x 2`` and ``g: n x 2``."""
        x1, x2 = x[:, 0], x[:, 1]
        f = torch.stack([2 + (x1 - 2) ** 2 + (x2 - 1) ** 2, 9 * x1 - (x2 - 1) ** 2], dim=1)
        g = torch.stack([x1**2 + x2**2 - 225, x1 - 3 * x2 + 10], dim=1)
        return Evaluation(f=f, g=g)

    def _pareto_set(self, n: int) -> Tensor:
        x2 = _lin(2.5, math.sqrt(225 - 6.25), n)
        return torch.stack([torch.full_like(x2, -2.5), x2], dim=1)


class TNK(_Classic):
    """Tanaka: ``f = x``, a wavy non-convex feasible boundary; ``x in [0, pi] x [1e-30, pi]``."""

    name = "tnk"
    n_constraints = 2

    def __init__(self) -> None:
        self.space = Box([0.0, 1e-30], [math.pi, math.pi])

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x 2``); returns ``f: n x 2`` and ``g: n x 2``."""
        x1, x2 = x[:, 0], x[:, 1]
        # atan2 equals atan(x1 / x2) for x2 > 0 and stays finite at x2 = 0
        g1 = -(x1**2 + x2**2 - 1.0 - 0.1 * torch.cos(16.0 * torch.atan2(x1, x2)))
        g2 = 2 * ((x1 - 0.5) ** 2 + (x2 - 0.5) ** 2) - 1
        return Evaluation(f=x.clone(), g=torch.stack([g1, g2], dim=1))

    def _pareto_set(self, n: int) -> Tensor:
        theta = _lin(0.0, 0.5 * math.pi, 20 * n)
        r = torch.sqrt(1.0 + 0.1 * torch.cos(16.0 * theta)) * (1 + 1e-12)  # just outside: feasible
        return torch.stack([r * torch.sin(theta), r * torch.cos(theta)], dim=1)


class OSY(_Classic):
    """Osyczka and Kundu: six variables, six constraints, a front of five segments."""

    name = "osy"
    n_constraints = 6

    def __init__(self) -> None:
        self.space = Box([0.0, 0.0, 1.0, 0.0, 1.0, 0.0], [10.0, 10.0, 5.0, 6.0, 5.0, 10.0])

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x 6``); returns ``f: n x 2`` and ``g: n x 6``."""
        x1, x2, x3, x4, x5, x6 = x.unbind(dim=1)
        f1 = -(25 * (x1 - 2) ** 2 + (x2 - 2) ** 2 + (x3 - 1) ** 2 + (x4 - 4) ** 2 + (x5 - 1) ** 2)
        f2 = (x**2).sum(dim=1)
        g = torch.stack(
            [
                (x1 + x2 - 2.0) / 2.0,
                (6.0 - x1 - x2) / 6.0,
                (2.0 - x2 + x1) / 2.0,
                (2.0 - x1 + 3.0 * x2) / 2.0,
                (4.0 - (x3 - 3.0) ** 2 - x4) / 4.0,
                ((x5 - 3.0) ** 2 + x6 - 4.0) / 4.0,
            ],
            dim=1,
        )
        return Evaluation(f=torch.stack([f1, f2], dim=1), g=-g)

    def _pareto_set(self, n: int) -> Tensor:
        m = max(n // 5, 2)
        s, ones, zeros = (
            _lin(1.0, 5.0, m),
            torch.ones(m, dtype=torch.float64),
            torch.zeros(m, dtype=torch.float64),
        )
        a = _lin(4.056, 5.0, m)
        b = _lin(0.0, 1.0, m)
        segments = [
            torch.stack([5 * ones, ones, s, zeros, 5 * ones, zeros], dim=1),
            torch.stack([5 * ones, ones, s, zeros, ones, zeros], dim=1),
            torch.stack([a, (a - 2) / 3, ones, zeros, ones, zeros], dim=1),
            torch.stack([zeros, 2 * ones, _lin(1.0, 3.732, m), zeros, ones, zeros], dim=1),
            torch.stack([b, 2 - b, ones, zeros, ones, zeros], dim=1),
        ]
        return torch.cat(segments)
