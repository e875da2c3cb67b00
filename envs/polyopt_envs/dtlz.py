"""DTLZ1–7 (Deb, Thiele, Laumanns, Zitzler 2005): scalable many-objective problems with analytic fronts.

Every problem takes ``n_obj`` (``M >= 2``, default 3) and either ``n_var`` or ``k`` (the number of distance
variables), with ``n_var = M + k - 1``. Default ``k`` follows pymoo's defaults at three objectives: 5 for DTLZ1,
10 for DTLZ2–6, and 8 for DTLZ7 (pymoo's ``n_var=10``; the original paper suggests 20).

Pareto fronts (``pareto_front(n)``, float64, minimization):
    DTLZ1: Das–Dennis directions scaled to the simplex ``sum f = 0.5``.
    DTLZ2–4: Das–Dennis directions normalized onto the unit sphere ``sum f^2 = 1``.
    DTLZ5, DTLZ6: the degenerate curve ``theta_1 in [0, pi/2], theta_2.. = pi/4`` on the unit sphere.
    DTLZ7: ``f_M = 2 (M - sum f_i/2 (1 + sin 3 pi f_i))`` over ``f_1..f_{M-1}`` drawn (grid/Sobol) from the
        non-dominated pieces of ``[0, 1]`` (``[0, 0.2514] u [0.6316, 0.8594]``, found on a 20,001-point grid),
        exact because ``f_M`` is separable; the front is ``2^(M-1)`` disconnected pieces.

Reference point for hypervolume: ``1.1 x`` the front's nadir, e.g. ``0.55`` per objective for DTLZ1, ``1.1``
for DTLZ2–4 and ``(0.945, ..., 0.945, 2.2 M)`` for DTLZ7.
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt.errors import ConfigError
from polyopt_envs._common import (
    check_int,
    product_shape,
    simplex_points,
    sphere_points,
    unit_points,
)

__all__ = [
    "DTLZ",
    "DTLZ1",
    "DTLZ2",
    "DTLZ3",
    "DTLZ4",
    "DTLZ5",
    "DTLZ6",
    "DTLZ7",
    "g_rastrigin",
    "g_sphere",
    "spherical",
]


def g_rastrigin(xm: Tensor) -> Tensor:
    """DTLZ1/3 distance function ``100 (k + sum((x - 0.5)^2 - cos(20 pi (x - 0.5))))``; ``n x k`` -> ``n``."""
    z = xm - 0.5
    return 100.0 * (xm.shape[1] + (z**2 - torch.cos(20 * math.pi * z)).sum(dim=1))


def g_sphere(xm: Tensor) -> Tensor:
    """DTLZ2/4/5 distance function ``sum (x - 0.5)^2``; ``n x k`` -> ``n``."""
    return ((xm - 0.5) ** 2).sum(dim=1)


def spherical(u: Tensor) -> Tensor:
    """Points on the unit sphere from ``n x (M-1)`` angles scaled to ``[0, 1]`` (``n x M``)."""
    angle = 0.5 * math.pi * u
    return product_shape(torch.cos(angle), torch.sin(angle))


class DTLZ(Objective):
    """Common parts of DTLZ1–7: options, the ``[0, 1]^n_var`` box and the reference point.

    Args:
        n_obj: number of objectives ``M >= 2``.
        n_var: number of variables, ``>= M`` (default ``M + k - 1``).
        k: number of distance variables, ``>= 1`` (give ``n_var`` or ``k``, not both).
    """

    default_k = 10

    def __init__(self, n_obj: int = 3, n_var: int | None = None, k: int | None = None) -> None:
        m = check_int("n_obj", n_obj, 2, "DTLZ problems have at least two objectives")
        if n_var is not None and k is not None and n_var != m + k - 1:
            raise ConfigError(
                f"n_var={n_var!r} and k={k!r} disagree; expected n_var = n_obj + k - 1 = {m + k - 1}"
            )
        if n_var is not None:
            n_var = check_int(
                "n_var",
                n_var,
                m,
                f"n_obj={m} position variables plus at least one distance variable",
            )
            k = n_var - m + 1
        else:
            k = check_int(
                "k", self.default_k if k is None else k, 1, "the number of distance variables"
            )
        self.n_objectives, self.k, self.n_var = m, k, m + k - 1
        self.space = Box(0.0, 1.0, dim=self.n_var)

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x n_var``); returns ``f: n x n_obj``."""
        m = self.n_objectives
        return Evaluation(f=self._f(x[:, : m - 1], x[:, m - 1 :]))

    def _f(self, xp: Tensor, xm: Tensor) -> Tensor:
        raise NotImplementedError

    def pareto_front(self, n: int = 1000) -> Tensor:
        """About ``n`` points of the analytic front (``N x n_obj``, float64, CPU)."""
        return sphere_points(n, self.n_objectives)

    @functools.cached_property
    def ref_point(self) -> tuple[float, ...]:  # type: ignore[override]
        """``1.1 x`` the front's nadir (worst value of each objective on the front)."""
        return tuple((1.1 * self.pareto_front(2000).amax(dim=0)).tolist())


class DTLZ1(DTLZ):
    """Linear front ``sum f = 0.5`` with ``11^k - 1`` local fronts; default ``k = 5``."""

    name = "dtlz1"
    default_k = 5

    def _f(self, xp: Tensor, xm: Tensor) -> Tensor:
        return 0.5 * (1.0 + g_rastrigin(xm)).unsqueeze(1) * product_shape(xp, 1.0 - xp)

    def pareto_front(self, n: int = 1000) -> Tensor:
        return 0.5 * simplex_points(n, self.n_objectives)


class DTLZ2(DTLZ):
    """Spherical front ``sum f^2 = 1``; default ``k = 10``."""

    name = "dtlz2"

    def _f(self, xp: Tensor, xm: Tensor) -> Tensor:
        return (1.0 + g_sphere(xm)).unsqueeze(1) * spherical(xp)


class DTLZ3(DTLZ):
    """DTLZ2's spherical front with DTLZ1's multimodal distance function (``3^k - 1`` local fronts)."""

    name = "dtlz3"

    def _f(self, xp: Tensor, xm: Tensor) -> Tensor:
        return (1.0 + g_rastrigin(xm)).unsqueeze(1) * spherical(xp)


class DTLZ4(DTLZ):
    """DTLZ2 with a density bias: position variables enter as ``x^alpha`` (``alpha = 100``).

    Args:
        n_obj: number of objectives.
        n_var: number of variables.
        k: number of distance variables.
        alpha: the bias exponent, ``> 0``.
    """

    name = "dtlz4"

    def __init__(
        self, n_obj: int = 3, n_var: int | None = None, k: int | None = None, alpha: float = 100.0
    ) -> None:
        super().__init__(n_obj, n_var, k)
        if not isinstance(alpha, (int, float)) or alpha <= 0:
            raise ConfigError(f"alpha={alpha!r}; expected a positive number")
        self.alpha = float(alpha)

    def _f(self, xp: Tensor, xm: Tensor) -> Tensor:
        return (1.0 + g_sphere(xm)).unsqueeze(1) * spherical(xp**self.alpha)


class _Degenerate(DTLZ):
    """DTLZ5/6: angles after the first are pulled towards pi/4 as g shrinks, so the front is a curve."""

    def _g(self, xm: Tensor) -> Tensor:
        raise NotImplementedError

    def _f(self, xp: Tensor, xm: Tensor) -> Tensor:
        g = self._g(xm).unsqueeze(1)  # n x 1
        theta = (1.0 + 2.0 * g * xp[:, 1:]) / (2.0 * (1.0 + g))
        return (1.0 + g) * spherical(torch.cat([xp[:, :1], theta], dim=1))

    def pareto_front(self, n: int = 1000) -> Tensor:
        t = torch.linspace(0, 1, max(n, 2), dtype=torch.float64).unsqueeze(1)
        return spherical(
            torch.cat(
                [t, torch.full((t.shape[0], self.n_objectives - 2), 0.5, dtype=torch.float64)],
                dim=1,
            )
        )


class DTLZ5(_Degenerate):
    """Degenerate curved front (a quarter circle arc on the unit sphere); default ``k = 10``."""

    name = "dtlz5"

    def _g(self, xm: Tensor) -> Tensor:
        return g_sphere(xm)


class DTLZ6(_Degenerate):
    """DTLZ5's curve with the harder distance function ``sum x^0.1``; default ``k = 10``."""

    name = "dtlz6"

    def _g(self, xm: Tensor) -> Tensor:
        return (xm**0.1).sum(dim=1)


class DTLZ7(DTLZ):
    """Disconnected front of ``2^(M-1)`` pieces; default ``k = 8`` (pymoo's 10 variables at three objectives)."""

    name = "dtlz7"
    default_k = 8

    def _f(self, xp: Tensor, xm: Tensor) -> Tensor:
        g = 1.0 + 9.0 / self.k * xm.sum(dim=1, keepdim=True)  # n x 1
        return torch.cat([xp, (1.0 + g) * self._h(xp, g)], dim=1)

    def _h(self, f: Tensor, g: Tensor) -> Tensor:
        return self.n_objectives - (f / (1.0 + g) * (1.0 + torch.sin(3 * math.pi * f))).sum(
            dim=1, keepdim=True
        )

    def pareto_front(self, n: int = 1000) -> Tensor:
        # f_M = 2M - sum_i phi(f_i) with phi(t) = t (1 + sin 3 pi t) is separable, so a point is non-dominated
        # exactly when every f_i is a running-maximum point of phi: phi(f_i) >= phi(t) for all t < f_i.
        t = torch.linspace(0, 1, 20001, dtype=torch.float64)
        phi = t * (1.0 + torch.sin(3 * math.pi * t))
        good = t[
            phi >= torch.cummax(phi, dim=0).values
        ]  # the non-dominated pieces of [0, 1], sorted
        u = unit_points(n, self.n_objectives - 1)  # spread uniformly over the pieces' total length
        f = good[(u * (good.numel() - 1)).round().long()]
        return torch.cat([f, 2.0 * self._h(f, torch.ones_like(f[:, :1]))], dim=1)
