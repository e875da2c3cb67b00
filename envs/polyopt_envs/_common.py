"""Pieces shared by the benchmark problems: option checks, front shapes, and front sampling.

Private: the problem modules import from here so that no shape or sampler is written twice.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt.refdirs import das_dennis, n_das_dennis

__all__ = [
    "check_int",
    "ref_from_front",
    "product_shape",
    "simplex_points",
    "sphere_points",
    "unit_points",
    "thin",
    "non_dominated",
]


def check_int(name: str, value: object, minimum: int, hint: str = "") -> int:
    """Return ``value`` if it is an integer ``>= minimum``; otherwise raise ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        extra = f" ({hint})" if hint else ""
        raise ConfigError(f"{name}={value!r}; expected an integer >= {minimum}{extra}")
    return value


def product_shape(a: Tensor, b: Tensor) -> Tensor:
    """The product shape behind DTLZ and WFG fronts: ``h_m = a_1 ... a_{M-m} * b_{M-m+1}`` (``h_1`` without b).

    With ``a = x, b = 1 - x`` it is the linear (simplex) shape, with ``a = cos(pi x / 2), b = sin(pi x / 2)``
    the spherical one, and so on.

    Args:
        a: ``n x (M-1)`` factors kept by the earlier objectives.
        b: ``n x (M-1)`` factors that switch objective ``m`` off.

    Returns:
        ``n x M`` shape values.
    """
    ones = torch.ones_like(a[:, :1])
    prefix = torch.cat([ones, torch.cumprod(a, dim=1)], dim=1)  # n x M: prefix[:, k] = a_1 ... a_k
    switch = torch.cat(
        [b, ones], dim=1
    )  # n x M: objective M - k uses b_{k+1}; objective 1 uses none
    return (prefix * switch).flip(-1)


def _partitions_for(n: int, m: int) -> int:
    """Smallest Das–Dennis partition count giving at least ``n`` directions in ``m`` dimensions."""
    h = 1
    while n_das_dennis(h, m) < n:
        h += 1
    return h


def simplex_points(n: int, m: int) -> Tensor:
    """At least ``n`` (about ``n``) Das–Dennis points on the unit simplex, ``N x m`` float64."""
    return das_dennis(_partitions_for(max(n, 1), m), m)


def sphere_points(n: int, m: int) -> Tensor:
    """Das–Dennis directions normalized onto the unit sphere's positive orthant, ``N x m`` float64."""
    w = simplex_points(n, m)
    return w / w.norm(dim=1, keepdim=True)


def unit_points(n: int, d: int) -> Tensor:
    """About ``n`` well-spread points in ``[0, 1]^d`` (float64): a grid for ``d <= 2``, else Sobol plus corners."""
    if d == 1:
        return torch.linspace(0, 1, max(n, 2), dtype=torch.float64).unsqueeze(1)
    if d == 2:
        side = max(math.ceil(math.sqrt(n)), 2)
        g = torch.linspace(0, 1, side, dtype=torch.float64)
        return torch.cartesian_prod(g, g)
    corners = torch.cartesian_prod(*[torch.tensor([0.0, 1.0], dtype=torch.float64)] * d).reshape(
        -1, d
    )
    sobol = torch.quasirandom.SobolEngine(d, scramble=False).draw(max(n, 2), dtype=torch.float64)
    return torch.cat([corners, sobol])


def non_dominated(f: Tensor) -> Tensor:
    """The non-dominated rows of ``f`` (``n x m``, minimization)."""
    from polyopt.pareto import non_dominated_mask

    return f[non_dominated_mask(f)]


def thin(front: Tensor, n: int) -> Tensor:
    """Keep about ``n`` rows of ``front`` spread along it (every k-th after sorting by the first objective)."""
    if front.shape[0] <= n:
        return front
    front = front[torch.argsort(front[:, 0])]
    idx = torch.linspace(0, front.shape[0] - 1, n, dtype=torch.float64).round().long()
    return front[torch.unique(idx)]


def ref_from_front(front: Tensor) -> tuple[float, ...]:
    """Hypervolume reference point ``nadir + 0.1 (nadir - ideal)`` of a front (minimization)."""
    nadir, ideal = front.amax(dim=0), front.amin(dim=0)
    return tuple((nadir + 0.1 * (nadir - ideal)).tolist())
