"""ZDT1–4 and ZDT6 (Zitzler, Deb, Thiele 2000): two objectives, analytic Pareto fronts.

Reference point for hypervolume: (1.1, 1.1) for all but ZDT6's front, which ends at f1 ≈ 0.2808; (1.1, 1.1)
covers it too. Fronts are sampled densely (``pareto_front(n)`` gives ``n`` points on the analytic curve).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt.errors import ConfigError

__all__ = ["ZDT1", "ZDT2", "ZDT3", "ZDT4", "ZDT6"]


class _ZDT(Objective):
    n_objectives = 2
    ref_point = (1.1, 1.1)
    default_dim = 30

    def __init__(self, n_var: int | None = None) -> None:
        n = self.default_dim if n_var is None else n_var
        if not isinstance(n, int) or n < 2:
            raise ConfigError(f"n_var={n!r}; expected an integer >= 2")
        self.n_var = n
        self.space = self._space(n)

    def _space(self, n: int) -> Box:
        return Box(0.0, 1.0, dim=n)

    def _g(self, x: Tensor) -> Tensor:
        return 1.0 + 9.0 * x[:, 1:].sum(dim=-1) / (self.n_var - 1)

    def _h(self, f1: Tensor, g: Tensor) -> Tensor:
        raise NotImplementedError

    def _f1(self, x: Tensor) -> Tensor:
        return x[:, 0]

    def evaluate(self, x: Tensor) -> Evaluation:
        f1, g = self._f1(x), self._g(x)
        return Evaluation(f=torch.stack([f1, g * self._h(f1, g)], dim=-1))

    def pareto_front(self, n: int) -> Tensor:
        f1 = torch.linspace(0, 1, n, dtype=torch.float64)
        return torch.stack([f1, self._h(f1, torch.ones_like(f1))], dim=-1)


class ZDT1(_ZDT):
    """Convex front ``f2 = 1 - sqrt(f1)``; 30 variables in [0, 1]."""

    name = "zdt1"

    def _h(self, f1: Tensor, g: Tensor) -> Tensor:
        return 1.0 - torch.sqrt(f1 / g)


class ZDT2(_ZDT):
    """Concave front ``f2 = 1 - f1^2``; 30 variables in [0, 1]."""

    name = "zdt2"

    def _h(self, f1: Tensor, g: Tensor) -> Tensor:
        return 1.0 - (f1 / g) ** 2


class ZDT3(_ZDT):
    """Disconnected front (five pieces); 30 variables in [0, 1]."""

    name = "zdt3"
    ref_point = (1.1, 1.1)

    def _h(self, f1: Tensor, g: Tensor) -> Tensor:
        return 1.0 - torch.sqrt(f1 / g) - (f1 / g) * torch.sin(10 * math.pi * f1)

    def pareto_front(self, n: int) -> Tensor:
        # the non-dominated parts of the g = 1 curve
        from polyopt.pareto import non_dominated_mask

        f1 = torch.linspace(0, 0.8518328654, max(n * 4, 400), dtype=torch.float64)
        front = torch.stack([f1, self._h(f1, torch.ones_like(f1))], dim=-1)
        front = front[non_dominated_mask(front)]
        idx = torch.linspace(0, front.shape[0] - 1, min(n, front.shape[0])).round().long()
        return front[idx]


class ZDT4(_ZDT):
    """ZDT1's front with a multimodal g; 10 variables, x1 in [0, 1], the rest in [-5, 5]."""

    name = "zdt4"
    default_dim = 10

    def _space(self, n: int) -> Box:
        return Box([0.0] + [-5.0] * (n - 1), [1.0] + [5.0] * (n - 1))

    def _g(self, x: Tensor) -> Tensor:
        r = x[:, 1:]
        return (
            1.0 + 10.0 * (self.n_var - 1) + (r**2 - 10.0 * torch.cos(4 * math.pi * r)).sum(dim=-1)
        )

    def _h(self, f1: Tensor, g: Tensor) -> Tensor:
        return 1.0 - torch.sqrt(f1 / g)


class ZDT6(_ZDT):
    """Concave, non-uniform front; 10 variables in [0, 1]."""

    name = "zdt6"
    default_dim = 10

    def _f1(self, x: Tensor) -> Tensor:
        return 1.0 - torch.exp(-4.0 * x[:, 0]) * torch.sin(6 * math.pi * x[:, 0]) ** 6

    def _g(self, x: Tensor) -> Tensor:
        return 1.0 + 9.0 * (x[:, 1:].sum(dim=-1) / (self.n_var - 1)) ** 0.25

    def _h(self, f1: Tensor, g: Tensor) -> Tensor:
        return 1.0 - (f1 / g) ** 2

    def pareto_front(self, n: int) -> Tensor:
        f1 = torch.linspace(0.2807753191, 1, n, dtype=torch.float64)
        return torch.stack([f1, 1.0 - f1**2], dim=-1)
