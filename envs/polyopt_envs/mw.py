"""MW1–MW3 (Ma and Wang 2019): two-objective constrained problems with small feasible regions near the front.

``n_var`` variables in ``[0, 1]`` (default 15, as pymoo). Objectives ``f_1 = x_1``, ``f_2 = G(x) - c x_1`` with
a distance function ``G >= 1`` (``G = 1`` at the unconstrained optimum); constraints as in pymoo, feasible when
``g <= 0``.

Pareto fronts (float64), by dense evaluation in objective space: for ``2n`` values of ``f_1`` on a grid of
``[0, 1]``, the smallest feasible ``G`` in ``[1, 1.5]`` is found (a 201-level scan, refined by 40 bisection
steps on the constraint boundary), and the resulting points are filtered for non-domination. MW1's front is the
feasible part of ``f_2 = 1 - 0.85 f_1``, MW2's the whole line ``f_1 + f_2 = 1``, MW3's that line pushed out onto
the second constraint's boundary where it cuts in.

Reference point for hypervolume: ``1.1 x`` the front's nadir (``(1.1, 1.1)`` for all three).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt_envs._common import check_int, non_dominated, thin

__all__ = ["MW1", "MW2", "MW3"]

_SQRT2 = math.sqrt(2.0)


def _la1(a: float, b: float, c: float, d: float, theta: Tensor) -> Tensor:
    """The MW papers' ``LA1`` landscape term ``a sin(b pi theta^c)^d``."""
    return a * torch.sin(b * math.pi * theta**c) ** d


class _MW(Objective):
    """Common parts: options, box, objectives from ``(x_1, G)``, and the front by dense evaluation.

    Args:
        n_var: number of variables, ``>= 2``.
    """

    n_objectives = 2
    ref_point = (1.1, 1.1)  # 1.1 x the nadir (1, 1) of all three fronts
    slope = 1.0  # f_2 = G - slope * f_1

    def __init__(self, n_var: int = 15) -> None:
        self.n_var = check_int("n_var", n_var, 2, "one position and at least one distance variable")
        self.space = Box(0.0, 1.0, dim=self.n_var)

    def _distance(self, x: Tensor) -> Tensor:
        """``G``: ``n x n_var`` -> ``n``, at least 1."""
        raise NotImplementedError

    def _constraints(self, f1: Tensor, f2: Tensor) -> Tensor:
        """Constraint values ``... x c`` from objective values (same shapes ``...``)."""
        raise NotImplementedError

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x n_var``); returns ``f: n x 2`` and ``g: n x n_constraints``."""
        f1 = x[:, 0]
        f2 = self._distance(x) - self.slope * f1
        return Evaluation(f=torch.stack([f1, f2], dim=1), g=self._constraints(f1, f2))

    def _feasible(self, f1: Tensor, big_g: Tensor) -> Tensor:
        return (self._constraints(f1, big_g - self.slope * f1) <= 0).all(dim=-1)

    def pareto_front(self, n: int = 1000) -> Tensor:
        """About ``n`` points of the front (``N x 2``, float64, CPU); see the module docstring."""
        f1 = torch.linspace(0, 1, max(2 * n, 2), dtype=torch.float64)  # 2n: MW1 keeps about half
        levels = torch.linspace(1.0, 1.5, 201, dtype=torch.float64)
        ok = self._feasible(f1.unsqueeze(1), levels.unsqueeze(0))  # 2n x 201
        has = ok.any(dim=1)
        first = ok.int().argmax(dim=1)  # index of the smallest feasible level
        hi, lo = levels[first], levels[(first - 1).clamp(min=0)]
        for _ in range(40):  # bisection between the last infeasible and the first feasible level
            mid = 0.5 * (lo + hi)
            good = self._feasible(f1, mid)
            hi, lo = torch.where(good, mid, hi), torch.where(good, lo, mid)
        hi = torch.where(first == 0, levels[0], hi)  # feasible already at G = 1
        front = torch.stack([f1, hi - self.slope * f1], dim=1)[has]
        return thin(non_dominated(front), n)


class MW1(_MW):
    """Linear front ``f_2 = 1 - 0.85 f_1``, cut into pieces by one constraint."""

    name = "mw1"
    n_constraints = 1
    slope = 0.85

    def _distance(self, x: Tensor) -> Tensor:
        d = self.n_var
        z = x[:, 1:] ** (d - 2)
        i = torch.arange(1, d, device=x.device, dtype=x.dtype)
        return 1.0 + (1.0 - torch.exp(-10.0 * (z - 0.5 - i / (2 * d)) ** 2)).sum(dim=1)

    def _constraints(self, f1: Tensor, f2: Tensor) -> Tensor:
        return (f1 + f2 - 1.0 - _la1(0.5, 2.0, 1.0, 8.0, _SQRT2 * (f2 - f1))).unsqueeze(-1)


class MW2(_MW):
    """Linear front ``f_1 + f_2 = 1`` (all feasible) with narrow feasible corridors and a multimodal ``G``."""

    name = "mw2"
    n_constraints = 1

    def _distance(self, x: Tensor) -> Tensor:
        d = self.n_var
        i = torch.arange(1, d, device=x.device, dtype=x.dtype)
        z = 1.0 - torch.exp(-10.0 * (x[:, 1:] - i / d) ** 2)
        return 1.0 + (0.1 / d * z**2 + 1.5 - 1.5 * torch.cos(2 * math.pi * z)).sum(dim=1)

    def _constraints(self, f1: Tensor, f2: Tensor) -> Tensor:
        return (f1 + f2 - 1.0 - _la1(0.5, 3.0, 1.0, 8.0, _SQRT2 * (f2 - f1))).unsqueeze(-1)


class MW3(_MW):
    """Linear front ``f_1 + f_2 = 1`` partly pushed outwards by a second constraint; two constraints."""

    name = "mw3"
    n_constraints = 2

    def _distance(self, x: Tensor) -> Tensor:
        return 1.0 + (2.0 * (x[:, 1:] + (x[:, :-1] - 0.5) ** 2 - 1.0) ** 2).sum(dim=1)

    def _constraints(self, f1: Tensor, f2: Tensor) -> Tensor:
        t = _SQRT2 * (f2 - f1)
        c1 = f1 + f2 - 1.05 - _la1(0.45, 0.75, 1.0, 6.0, t)
        c2 = 0.85 - f1 - f2 + _la1(0.3, 0.75, 1.0, 2.0, t)
        return torch.stack([c1, c2], dim=-1)
