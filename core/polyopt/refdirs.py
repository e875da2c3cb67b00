"""Reference directions on the unit simplex: Das–Dennis lattices and Riesz s-energy point sets.

Used by decomposition-based algorithms (MOEA/D, NSGA-III), by weight sets for scalarized RL, and by the
expected-utility metric. Both functions return float64 CPU tensors; move them to a device with ``.to``.
"""

from __future__ import annotations

import itertools
import math

import torch
from torch import Tensor

__all__ = [
    "das_dennis",
    "n_das_dennis",
    "project_to_simplex",
    "riesz_energy",
    "riesz_energy_directions",
]


def n_das_dennis(n_partitions: int, n_obj: int) -> int:
    """Number of Das–Dennis directions, ``binom(n_partitions + n_obj - 1, n_obj - 1)`` (1 when 0 partitions)."""
    return 1 if n_partitions == 0 else math.comb(n_partitions + n_obj - 1, n_obj - 1)


def das_dennis(n_partitions: int, n_obj: int) -> Tensor:
    """Das–Dennis (simplex-lattice) reference directions, in pymoo's order.

    Every point has coordinates ``k / n_partitions`` summing to one; rows come in lexicographic order of
    their coordinates, as ``pymoo.util.ref_dirs.get_reference_directions("das-dennis", ...)``. With zero
    partitions the single direction is the centroid ``1 / n_obj``.

    Args:
        n_partitions: number of divisions of each axis (``H``), ``>= 0``.
        n_obj: number of objectives ``m``, ``>= 1``.

    Returns:
        ``binom(H + m - 1, m - 1) x m`` float64 tensor.
    """
    if n_obj < 1 or n_partitions < 0:
        raise ValueError(f"need n_obj >= 1 and n_partitions >= 0, got {n_obj} and {n_partitions}")
    if n_partitions == 0:
        return torch.full((1, n_obj), 1.0 / n_obj, dtype=torch.float64)
    if n_obj == 1:
        return torch.ones(1, 1, dtype=torch.float64)
    # stars and bars: m - 1 bar positions among H + m - 1 slots, combinations in lexicographic order
    slots = n_partitions + n_obj - 1
    bars = torch.tensor(list(itertools.combinations(range(slots), n_obj - 1)), dtype=torch.int64)
    bars = bars.reshape(-1, n_obj - 1)
    edges = torch.cat(
        [torch.full((bars.shape[0], 1), -1), bars, torch.full((bars.shape[0], 1), slots)], 1
    )
    counts = edges[:, 1:] - edges[:, :-1] - 1  # N x m, each row sums to H
    return counts.to(torch.float64) / n_partitions


def project_to_simplex(v: Tensor) -> Tensor:
    """Euclidean projection of each row onto the unit simplex (Duchi et al., 2008).

    Args:
        v: ``n x m`` points.

    Returns:
        ``n x m`` points with non-negative coordinates summing to one.
    """
    u = torch.sort(v, dim=1, descending=True).values
    css = torch.cumsum(u, dim=1) - 1.0
    k = torch.arange(1, v.shape[1] + 1, dtype=v.dtype, device=v.device)
    rho = ((u - css / k) > 0).sum(dim=1, keepdim=True).clamp(min=1)  # n x 1, always >= 1
    theta = css.gather(1, rho - 1) / rho.to(v.dtype)
    return (v - theta).clamp(min=0.0)


def riesz_energy(x: Tensor, s: float | None = None) -> Tensor:
    """Log of the mean Riesz s-energy ``log(mean_{i<j} |x_i - x_j|^-s)`` (pymoo's objective).

    Args:
        x: ``n x m`` points, ``n >= 2``.
        s: the exponent; ``2 m`` when None, as pymoo.

    Returns:
        Scalar tensor.
    """
    s = 2.0 * x.shape[1] if s is None else s
    i, j = torch.triu_indices(x.shape[0], x.shape[0], 1, device=x.device)
    dist = (x[i] - x[j]).pow(2).sum(dim=1).sqrt()
    return torch.log(dist.pow(-s).mean())


def _initial_points(n_points: int, n_obj: int, generator: torch.Generator) -> Tensor:
    """The corners, then farthest-point picks among uniform simplex samples (``n_points x n_obj``)."""
    pool = -torch.log(
        torch.rand(max(50 * n_points, 1000), n_obj, generator=generator, dtype=torch.float64)
    )
    pool = pool / pool.sum(dim=1, keepdim=True)
    chosen = torch.eye(n_obj, dtype=torch.float64)[: min(n_obj, n_points)]
    if chosen.shape[0] == 0:
        chosen = pool[:1]
    nearest = torch.cdist(pool, chosen).min(dim=1).values
    picks = [chosen]
    for _ in range(n_points - chosen.shape[0]):
        best = int(torch.argmax(nearest))
        picks.append(pool[best : best + 1])
        nearest = torch.minimum(nearest, torch.cdist(pool, pool[best : best + 1]).squeeze(1))
    return _lloyd(torch.cat(picks), pool, n_fixed=min(n_obj, n_points))


def _lloyd(centers: Tensor, pool: Tensor, n_fixed: int, n_iter: int = 30) -> Tensor:
    """k-means (Lloyd) refinement of ``k x m`` centers over ``p x m`` samples; the first ``n_fixed`` stay."""
    for _ in range(n_iter):
        assign = torch.cdist(pool, centers).argmin(dim=1)  # p
        sums = torch.zeros_like(centers).index_add_(0, assign, pool)
        counts = torch.bincount(assign, minlength=centers.shape[0]).unsqueeze(1).to(pool.dtype)
        moved = torch.where(counts > 0, sums / counts.clamp(min=1), centers)
        centers = torch.cat([centers[:n_fixed], moved[n_fixed:]])
    return centers


def _energy_and_direction(x: Tensor) -> tuple[float, Tensor]:
    """Log-energy of ``x`` (``n x m``) and its gradient, projected on the simplex plane, max row norm 1."""
    x_var = x.clone().requires_grad_(True)
    energy = riesz_energy(x_var)
    (grad,) = torch.autograd.grad(energy, x_var)
    grad = grad - grad.mean(dim=1, keepdim=True)  # stay in the plane sum(x) = 1
    return float(energy.detach()), grad / grad.norm(dim=1).max().clamp(min=1e-24)


def riesz_energy_directions(
    n_points: int, n_obj: int, *, seed: int = 0, n_iter: int = 1000
) -> Tensor:
    """Well-spread directions on the simplex that minimize Riesz s-energy (as pymoo's ``"energy"``).

    Starts from the simplex corners plus farthest-point picks among uniform samples refined by k-means
    (corners fixed), then runs projected gradient descent on pymoo's objective
    ``log(mean_{i<j} |x_i - x_j|^-2m)``: the gradient is projected on the simplex's plane and scaled so its
    largest row has norm one, a step is kept only when it lowers the energy (step size x1.2), otherwise
    the step size halves. The point set differs from pymoo's, but its energy and minimum spacing are close
    (checked in tests/unit/core/test_refdirs.py).

    Args:
        n_points: number of directions ``n``.
        n_obj: number of objectives ``m``.
        seed: seed of the initial sampling; same seed, same result.
        n_iter: maximum number of gradient steps.

    Returns:
        ``n x m`` float64 tensor, rows on the unit simplex.
    """
    if n_points < 1 or n_obj < 1:
        raise ValueError(f"need n_points >= 1 and n_obj >= 1, got {n_points} and {n_obj}")
    x = _initial_points(n_points, n_obj, torch.Generator().manual_seed(seed))
    if n_points == 1 or n_obj == 1:
        return x
    energy, grad = _energy_and_direction(x)
    lr = 0.01
    for _ in range(n_iter):
        candidate = project_to_simplex(x - lr * grad)
        cand_energy, cand_grad = _energy_and_direction(candidate)
        if cand_energy < energy:  # monotone descent: accept and grow the step
            x, energy, grad, lr = candidate, cand_energy, cand_grad, lr * 1.2
        else:
            lr *= 0.5
        if lr < 1e-7:
            break
    return x / x.sum(dim=1, keepdim=True)
