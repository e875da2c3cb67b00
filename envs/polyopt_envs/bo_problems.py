"""Bayesian-optimization test problems with known optima, as in ``botorch.test_functions`` (minimized).

All are minimized, as BoTorch's problems with ``negate=False``; bounds and constants are BoTorch's. Each has
``optimum`` (the best value) and ``optimizers`` (points where it is reached, from the same sources).

- ``branin`` (2-D): 0.397887357730 at (-pi, 12.275), (pi, 2.275), (9.42478, 2.475).
- ``hartmann6`` (6-D, ``[0, 1]^6``): -3.322368004440 (refined with L-BFGS-B at gtol 1e-14 from the published
  -3.32237) at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).
- ``ackley``, ``levy``, ``rosenbrock`` (any ``dim``, default 2): 0 at the origin, at ones, at ones.
- ``gramacy`` (2-D, two constraints ``g <= 0``, BoTorch's ``ConstrainedGramacy`` with slack ``= -g``):
  0.599788052010 at (0.195122688585, 0.404665363425) (Gramacy et al. 2016 give 0.5998; this value is SLSQP's
  best of 400 starts at tolerance 1e-15, feasible to 1e-14).
- ``constrained-hartmann6``: Hartmann6 subject to ``||x||^2 <= 1``. The unconstrained optimizer has
  ``||x*||^2 = 0.8955``, so the constraint is inactive there and the optimum stays -3.322368; checked with 200
  SLSQP restarts from uniform points (scipy), none better.
- ``branin-currin`` (2 objectives on ``[0, 1]^2``): both minimized (BoTorch's default), reference point
  ``(18, 6)`` (BoTorch's ``ref_point``, negated there only for ``negate=True``). ``pareto_front(n)`` is
  approximated: a 400 x 400 grid is evaluated and filtered for non-domination, then points are sampled
  uniformly around each non-dominated grid cell (seeded), evaluated and filtered again.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt_envs._common import check_int, non_dominated, thin

__all__ = [
    "Branin",
    "Hartmann6",
    "Ackley",
    "Levy",
    "Rosenbrock",
    "Gramacy",
    "ConstrainedHartmann6",
    "BraninCurrin",
    "branin",
    "hartmann6",
]

_H6_ALPHA = [1.0, 1.2, 3.0, 3.2]
_H6_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_H6_P = [
    [1312, 1696, 5569, 124, 8283, 5886],
    [2329, 4135, 8307, 3736, 1004, 9991],
    [2348, 1451, 3522, 2883, 3047, 6650],
    [4047, 8828, 8732, 5743, 1091, 381],
]
_H6_OPT = (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573)


def branin(x: Tensor) -> Tensor:
    """Branin on its native domain: ``n x 2`` -> ``n``."""
    x1, x2 = x[:, 0], x[:, 1]
    t1 = x2 - 5.1 / (4 * math.pi**2) * x1**2 + 5 / math.pi * x1 - 6
    return t1**2 + 10 * (1 - 1 / (8 * math.pi)) * torch.cos(x1) + 10


def hartmann6(x: Tensor) -> Tensor:
    """Hartmann6: ``n x 6`` -> ``n``."""
    alpha, a = torch.tensor(_H6_ALPHA).to(x), torch.tensor(_H6_A).to(x)
    p = torch.tensor(_H6_P).to(x) * 1e-4
    inner = (a * (x.unsqueeze(1) - p) ** 2).sum(dim=-1)  # n x 4
    return -(alpha * torch.exp(-inner)).sum(dim=-1)


class _Single(Objective):
    """A single-objective problem from a batched function ``fn(x: n x d) -> n``."""

    optimizers: tuple[tuple[float, ...], ...] = ()

    def _fn(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x d``); returns ``f: n x 1``."""
        return Evaluation(f=self._fn(x).unsqueeze(1))


class Branin(_Single):
    """Branin on ``[-5, 10] x [0, 15]``; three global minima of 0.397887."""

    name = "branin"
    optimum = 0.397887357729738
    optimizers = ((-math.pi, 12.275), (math.pi, 2.275), (9.42478, 2.475))

    def __init__(self) -> None:
        self.space = Box([-5.0, 0.0], [10.0, 15.0])

    def _fn(self, x: Tensor) -> Tensor:
        return branin(x)


class Hartmann6(_Single):
    """Hartmann6 on ``[0, 1]^6``; six local minima, global minimum -3.32237."""

    name = "hartmann6"
    optimum = -3.322368004440
    optimizers = (_H6_OPT,)

    def __init__(self) -> None:
        self.space = Box(0.0, 1.0, dim=6)

    def _fn(self, x: Tensor) -> Tensor:
        return hartmann6(x)


class _AnyDim(_Single):
    """Options of the any-dimension problems.

    Args:
        dim: number of variables, ``>= 1`` (``>= 2`` for Rosenbrock).
    """

    lower, upper, at, min_dim = -1.0, 1.0, 0.0, 1

    def __init__(self, dim: int = 2) -> None:
        self.dim = check_int("dim", dim, self.min_dim)
        self.space = Box(self.lower, self.upper, dim=self.dim)
        self.optimizers = ((self.at,) * self.dim,)


class Ackley(_AnyDim):
    """Ackley (``a = 20, b = 0.2, c = 2 pi``) on ``[-32.768, 32.768]^dim``; minimum 0 at the origin."""

    name = "ackley"
    optimum = 0.0
    lower, upper = -32.768, 32.768

    def _fn(self, x: Tensor) -> Tensor:
        part1 = -20.0 * torch.exp(-0.2 * x.norm(dim=-1) / math.sqrt(x.shape[-1]))
        part2 = -torch.exp(torch.cos(2 * math.pi * x).mean(dim=-1))
        return part1 + part2 + 20.0 + math.e


class Levy(_AnyDim):
    """Levy on ``[-10, 10]^dim``; minimum 0 at ``(1, ..., 1)``."""

    name = "levy"
    optimum = 0.0
    lower, upper, at = -10.0, 10.0, 1.0

    def _fn(self, x: Tensor) -> Tensor:
        w = 1.0 + (x - 1.0) / 4.0
        head = torch.sin(math.pi * w[:, 0]) ** 2
        mid = (
            (w[:, :-1] - 1.0) ** 2 * (1.0 + 10.0 * torch.sin(math.pi * w[:, :-1] + 1.0) ** 2)
        ).sum(dim=-1)
        tail = (w[:, -1] - 1.0) ** 2 * (1.0 + torch.sin(2 * math.pi * w[:, -1]) ** 2)
        return head + mid + tail


class Rosenbrock(_AnyDim):
    """Rosenbrock on ``[-5, 10]^dim`` (``dim >= 2``); minimum 0 at ``(1, ..., 1)``."""

    name = "rosenbrock"
    optimum = 0.0
    lower, upper, at, min_dim = -5.0, 10.0, 1.0, 2

    def _fn(self, x: Tensor) -> Tensor:
        return (100.0 * (x[:, 1:] - x[:, :-1] ** 2) ** 2 + (x[:, :-1] - 1.0) ** 2).sum(dim=-1)


class Gramacy(_Single):
    """Minimize ``x_1 + x_2`` on ``[0, 1]^2`` under two constraints (Gramacy et al. 2016); optimum 0.599788052 at
    (0.195122689, 0.404665363), where the first constraint is active."""

    name = "gramacy"
    n_constraints = 2
    optimum = 0.599788052010
    optimizers = ((0.195122688585, 0.404665363425),)

    def __init__(self) -> None:
        self.space = Box(0.0, 1.0, dim=2)

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x 2``); returns ``f: n x 1`` and ``g: n x 2``."""
        x1, x2 = x[:, 0], x[:, 1]
        c1 = 1.5 - x1 - 2 * x2 - 0.5 * torch.sin(2 * math.pi * (x1**2 - 2 * x2))
        c2 = x1**2 + x2**2 - 1.5
        return Evaluation(f=(x1 + x2).unsqueeze(1), g=torch.stack([c1, c2], dim=1))


class ConstrainedHartmann6(Hartmann6):
    """Hartmann6 subject to ``||x||^2 <= 1`` (``g = ||x||^2 - 1``); optimum -3.32237 (see the module docstring)."""

    name = "constrained-hartmann6"
    n_constraints = 1

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x 6``); returns ``f: n x 1`` and ``g: n x 1``."""
        return Evaluation(f=hartmann6(x).unsqueeze(1), g=((x**2).sum(dim=-1) - 1.0).unsqueeze(1))


def currin(x: Tensor) -> Tensor:
    """Currin's exponential function on ``[0, 1]^2`` (``n x 2`` -> ``n``)."""
    x1, x2 = x[:, 0], x[:, 1]
    factor = 1 - torch.exp(-1 / (2 * x2))
    return (
        factor
        * (2300 * x1**3 + 1900 * x1**2 + 2092 * x1 + 60)
        / (100 * x1**3 + 500 * x1**2 + 4 * x1 + 20)
    )


class BraninCurrin(Objective):
    """Branin (rescaled to ``[0, 1]^2``) and Currin, both minimized; reference point ``(18, 6)``."""

    name = "branin-currin"
    n_objectives = 2
    directions = ("minimize", "minimize")
    ref_point = (18.0, 6.0)

    def __init__(self) -> None:
        self.space = Box(0.0, 1.0, dim=2)

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x 2``); returns ``f: n x 2``."""
        scaled = torch.stack([15 * x[:, 0] - 5, 15 * x[:, 1]], dim=1)
        return Evaluation(f=torch.stack([branin(scaled), currin(x)], dim=1))

    def pareto_front(self, n: int = 1000) -> Tensor:
        """About ``n`` points approximating the front (``N x 2``, float64, CPU); see the module docstring."""
        side = 400
        g = torch.linspace(0, 1, side, dtype=torch.float64)
        grid = torch.cartesian_prod(g, g)
        f = self.evaluate(grid).f
        centres = grid[_nd_index(f)]  # k x 2
        per = max(4 * n // centres.shape[0], 4)
        gen = torch.Generator().manual_seed(0)
        jitter = (
            torch.rand(centres.shape[0], per, 2, generator=gen, dtype=torch.float64) * 2 - 1
        ) / (side - 1)
        x = (centres.unsqueeze(1) + jitter).reshape(-1, 2).clamp(0.0, 1.0)
        return thin(non_dominated(torch.cat([f[_nd_index(f)], self.evaluate(x).f])), n)


def _nd_index(f: Tensor) -> Tensor:
    from polyopt.pareto import non_dominated_mask

    return non_dominated_mask(f).nonzero().squeeze(1)
