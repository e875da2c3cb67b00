"""Knapsack solvers: the exact dynamic program (from :mod:`polyopt_envs.co`, the problems' reference) and the
greedy value-to-weight heuristic, both batched over instances."""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt_envs.co import knapsack_dp

__all__ = ["knapsack_dp", "knapsack_greedy"]


def knapsack_greedy(weights: Tensor, values: Tensor, capacity: Tensor) -> tuple[Tensor, Tensor]:
    """Greedy by value-to-weight ratio: scan items best ratio first and pack each that still fits.

    Args:
        weights: ``B x n`` positive weights.
        values: ``B x n`` values.
        capacity: ``B`` capacities.

    Returns:
        ``(value: B, x: B x n float 0/1 packings)``.
    """
    b, n = weights.shape
    order = (values / weights.clamp_min(1e-12)).argsort(dim=1, descending=True, stable=True)
    w = weights.gather(1, order)
    load = torch.zeros(b, dtype=weights.dtype, device=weights.device)
    packed = torch.zeros(b, n, dtype=torch.bool, device=weights.device)
    for k in range(n):
        fits = load + w[:, k] <= capacity
        packed[:, k] = fits
        load = torch.where(fits, load + w[:, k], load)
    x = torch.zeros(b, n, dtype=values.dtype, device=values.device)
    x = x.scatter(1, order, packed.to(values.dtype))
    return (x * values).sum(dim=1), x
