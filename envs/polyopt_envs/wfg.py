"""WFG1–9 (Huband, Hingston, Barone, While 2006): scalable problems built from the WFG toolkit.

Each takes ``n_obj`` (``M >= 2``, default 3), position parameters ``k`` (default pymoo's: 4 for two
objectives, ``2 (M - 1)`` otherwise; a multiple of ``M - 1``) and distance parameters ``l`` (default 20, as in
the WFG paper; even for WFG2/3). Variable ``i`` (from 1) lies in ``[0, 2 i]``. Objectives are
``f_m = x_M + S_m h_m(x_1..x_{M-1})`` with ``S_m = 2 m``.

Pareto fronts (``pareto_front(n)``, float64): on the front the distance parameters are optimal, so ``x_M = 0``
and ``f = S * h``.
    WFG1: convex shape with a mixed last objective, ``x_1..x_{M-1}`` over a grid/Sobol set of ``[0, 1]^(M-1)``.
    WFG2: convex shape with a disconnected last objective; ``x_1`` is drawn only from the values where the last
        shape is a running minimum (the non-dominated pieces, exact since ``h_M`` depends on ``x_1`` alone).
    WFG3: the degenerate line of the linear shape with ``x_2.. = 0.5`` (``A_2.. = 0``).
    WFG4–9: Das–Dennis directions normalized onto the sphere and scaled by ``S``.

Reference point for hypervolume: ``1.1 x`` the front's nadir (``2.2 m`` for objective ``m`` except WFG3).
"""

from __future__ import annotations

import functools

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt.errors import ConfigError
from polyopt_envs import _wfg_ops as ops
from polyopt_envs._common import check_int, sphere_points, unit_points

__all__ = ["WFG", "WFG1", "WFG2", "WFG3", "WFG4", "WFG5", "WFG6", "WFG7", "WFG8", "WFG9"]


class WFG(Objective):
    """Common parts of WFG1–9: options, box, the final mapping ``t -> x -> f`` and the reference point.

    Args:
        n_obj: number of objectives ``M >= 2``.
        k: number of position parameters, a positive multiple of ``M - 1``.
        l: number of distance parameters, ``>= 1``.
    """

    even_l = False

    def __init__(self, n_obj: int = 3, k: int | None = None, l: int = 20) -> None:  # noqa: E741
        m = check_int("n_obj", n_obj, 2, "WFG problems have at least two objectives")
        k = check_int(
            "k", (4 if m == 2 else 2 * (m - 1)) if k is None else k, 1, "position parameters"
        )
        if k % (m - 1):
            raise ConfigError(f"k={k}; expected a multiple of n_obj - 1 = {m - 1}")
        l = check_int("l", l, 2 if self.even_l else 1, "distance parameters")  # noqa: E741
        if self.even_l and l % 2:
            raise ConfigError(
                f"l={l}; expected an even number of distance parameters for {self.name}"
            )
        self.n_objectives, self.k, self.l, self.n_var = m, k, l, k + l
        self.space = Box(0.0, [2.0 * (i + 1) for i in range(self.n_var)])
        self.scale = [2.0 * (i + 1) for i in range(m)]  # S_m
        self.degenerate = [1.0] * (m - 1)  # A_m: 0 makes x_m collapse to 0.5 on the front

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x (k + l)``); returns ``f: n x n_obj``."""
        upper = torch.arange(1, self.n_var + 1, device=x.device, dtype=x.dtype) * 2.0
        t = self._transform(x / upper)  # n x M
        a = torch.tensor(self.degenerate, device=x.device, dtype=x.dtype)
        tm = t[:, -1:]
        pos = torch.maximum(tm, a) * (t[:, :-1] - 0.5) + 0.5  # n x (M-1)
        scale = torch.tensor(self.scale, device=x.device, dtype=x.dtype)
        return Evaluation(f=tm + scale * self._shape(pos))

    def _transform(self, y: Tensor) -> Tensor:
        """``n x n_var`` in ``[0, 1]`` -> ``n x M`` transition vector ``t``."""
        raise NotImplementedError

    def _shape(self, x: Tensor) -> Tensor:
        """``n x (M-1)`` position values -> ``n x M`` shape values ``h``."""
        return ops.concave(x)

    def _groups(self, y: Tensor) -> Tensor:
        """The position parameters split into ``M - 1`` groups: ``n x (M-1) x (k / (M-1))``."""
        return y[:, : self.k].reshape(y.shape[0], self.n_objectives - 1, -1)

    def _uniform_sum(self, y: Tensor) -> Tensor:
        """Uniform weighted-sum reduction of each position group and of the distance parameters."""
        return torch.cat(
            [ops.r_sum(self._groups(y)), ops.r_sum(y[:, self.k :]).unsqueeze(1)], dim=1
        )

    def _nonsep(self, y: Tensor) -> Tensor:
        """Non-separable reduction of each position group and of the distance parameters."""
        groups = self._groups(y)
        tail = ops.r_nonsep(y[:, self.k :], y.shape[1] - self.k).unsqueeze(1)
        return torch.cat([ops.r_nonsep(groups, groups.shape[-1]), tail], dim=1)

    def pareto_front(self, n: int = 1000) -> Tensor:
        """About ``n`` points of the front (``N x n_obj``, float64, CPU)."""
        return sphere_points(n, self.n_objectives) * torch.tensor(self.scale, dtype=torch.float64)

    @functools.cached_property
    def ref_point(self) -> tuple[float, ...]:  # type: ignore[override]
        """``1.1 x`` the front's nadir."""
        return tuple((1.1 * self.pareto_front(2000).amax(dim=0)).tolist())


def _with_distance(y: Tensor, k: int, fn: object) -> Tensor:
    """Apply ``fn`` to the distance parameters ``y[:, k:]`` only."""
    return torch.cat([y[:, :k], fn(y[:, k:])], dim=1)  # type: ignore[operator]


class _ConvexFamily(WFG):
    """WFG1/2: convex shape with a special last objective that depends on ``x_1`` only."""

    def _last(self, x1: Tensor) -> Tensor:
        raise NotImplementedError

    def _shape(self, x: Tensor) -> Tensor:
        return torch.cat([ops.convex(x)[:, :-1], self._last(x[:, 0]).unsqueeze(1)], dim=1)

    def pareto_front(self, n: int = 1000) -> Tensor:
        # h_1..h_{M-1} all carry the increasing factor 1 - cos(pi x_1 / 2), so a point is non-dominated
        # exactly when h_M(x_1) is below h_M at every smaller x_1 (a running minimum)
        t = torch.linspace(0, 1, 20001, dtype=torch.float64)
        last = self._last(t)
        good = t[last <= torch.cummin(last, dim=0).values]
        u = unit_points(n, self.n_objectives - 1)
        x = torch.cat([good[(u[:, :1] * (good.numel() - 1)).round().long()], u[:, 1:]], dim=1)
        return self._shape(x) * torch.tensor(self.scale, dtype=torch.float64)


class WFG1(_ConvexFamily):
    """Convex/mixed front, flat and polynomial biases on the variables."""

    name = "wfg1"

    def _transform(self, y: Tensor) -> Tensor:
        y = _with_distance(y, self.k, lambda d: ops.b_flat(ops.s_linear(d, 0.35), 0.8, 0.75, 0.85))
        y = ops.b_poly(y, 0.02)
        w = torch.arange(1, self.n_var + 1, device=y.device, dtype=y.dtype) * 2.0
        pos = ops.r_sum(self._groups(y), self._groups(w.unsqueeze(0))[0])
        return torch.cat([pos, ops.r_sum(y[:, self.k :], w[self.k :]).unsqueeze(1)], dim=1)

    def _last(self, x1: Tensor) -> Tensor:
        return ops.mixed(x1, alpha=1.0, a=5.0)


def _wfg23_transform(problem: WFG, y: Tensor) -> Tensor:
    """WFG2/3's transitions: linear shift, distance parameters reduced in non-separable pairs, uniform sums."""
    d = ops.s_linear(y[:, problem.k :], 0.35)
    d = ops.r_nonsep(d.reshape(d.shape[0], -1, 2), 2)  # l -> l/2
    return problem._uniform_sum(torch.cat([y[:, : problem.k], d], dim=1))


class WFG2(_ConvexFamily):
    """Convex, disconnected front; non-separable distance parameters; ``l`` even."""

    name = "wfg2"
    even_l = True

    _transform = _wfg23_transform

    def _last(self, x1: Tensor) -> Tensor:
        return ops.disconnected(x1, alpha=1.0, beta=1.0, a=5.0)


class WFG3(WFG):
    """Linear, degenerate front (a line); WFG2's transitions; ``l`` even."""

    name = "wfg3"
    even_l = True

    def __init__(self, n_obj: int = 3, k: int | None = None, l: int = 20) -> None:  # noqa: E741
        super().__init__(n_obj, k, l)
        self.degenerate = [1.0] + [0.0] * (self.n_objectives - 2)

    _transform = _wfg23_transform

    def _shape(self, x: Tensor) -> Tensor:
        return ops.linear(x)

    def pareto_front(self, n: int = 1000) -> Tensor:
        x = torch.full((max(n, 2), self.n_objectives - 1), 0.5, dtype=torch.float64)
        x[:, 0] = torch.linspace(0, 1, x.shape[0], dtype=torch.float64)
        return ops.linear(x) * torch.tensor(self.scale, dtype=torch.float64)


class WFG4(WFG):
    """Concave front, multi-modal shift on every variable."""

    name = "wfg4"

    def _transform(self, y: Tensor) -> Tensor:
        return self._uniform_sum(ops.s_multi(y, 30.0, 10.0, 0.35))


class WFG5(WFG):
    """Concave front, deceptive shift on every variable."""

    name = "wfg5"

    def _transform(self, y: Tensor) -> Tensor:
        return self._uniform_sum(ops.s_decept(y, 0.35, 0.001, 0.05))


class WFG6(WFG):
    """Concave front, non-separable reductions."""

    name = "wfg6"

    def _transform(self, y: Tensor) -> Tensor:
        return self._nonsep(_with_distance(y, self.k, lambda d: ops.s_linear(d, 0.35)))


class WFG7(WFG):
    """Concave front; position parameters biased by the mean of the later parameters."""

    name = "wfg7"

    def _transform(self, y: Tensor) -> Tensor:
        pos = ops.b_param(y[:, : self.k], ops.suffix_mean(y)[:, : self.k])
        y = torch.cat([pos, ops.s_linear(y[:, self.k :], 0.35)], dim=1)
        return self._uniform_sum(y)


class WFG8(WFG):
    """Concave front; distance parameters biased by the mean of the earlier parameters."""

    name = "wfg8"

    def _transform(self, y: Tensor) -> Tensor:
        earlier = ops.prefix_mean(y)[:, self.k - 1 : -1]  # mean of y[:, :i] for i = k .. n-1
        dist = ops.s_linear(ops.b_param(y[:, self.k :], earlier), 0.35)
        return self._uniform_sum(torch.cat([y[:, : self.k], dist], dim=1))


class WFG9(WFG):
    """Concave front; parameter-dependent bias, deceptive and multi-modal shifts, non-separable reductions."""

    name = "wfg9"

    def _transform(self, y: Tensor) -> Tensor:
        y = torch.cat([ops.b_param(y[:, :-1], ops.suffix_mean(y)), y[:, -1:]], dim=1)
        y = torch.cat(
            [
                ops.s_decept(y[:, : self.k], 0.35, 0.001, 0.05),
                ops.s_multi(y[:, self.k :], 30.0, 95.0, 0.35),
            ],
            dim=1,
        )
        return self._nonsep(y)
