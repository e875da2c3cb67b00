"""Scalarizing functions for decomposition (MOEA/D), batched over any leading dimensions."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["tchebycheff", "pbi", "decompose"]


def tchebycheff(f: Tensor, weights: Tensor, ideal: Tensor) -> Tensor:
    """Weighted Tchebycheff ``max_i w_i |f_i - z_i|`` (pymoo's ``Tchebicheff``).

    Args:
        f: ``... x m`` objectives.
        weights: ``... x m`` weights, broadcastable against ``f``.
        ideal: ``m`` ideal point ``z``.

    Returns:
        ``...`` values (smaller is better).
    """
    return ((f - ideal).abs() * weights).amax(dim=-1)


def pbi(f: Tensor, weights: Tensor, ideal: Tensor, theta: float = 5.0) -> Tensor:
    """Penalty-based boundary intersection ``d1 + theta d2`` (pymoo's ``PBI``).

    ``d1`` is the length of ``f - z`` along the weight direction and ``d2`` the distance from that line.

    Args:
        f: ``... x m`` objectives.
        weights: ``... x m`` weights, broadcastable against ``f``.
        ideal: ``m`` ideal point.
        theta: penalty of the distance from the line.

    Returns:
        ``...`` values (smaller is better).
    """
    u = weights / weights.norm(dim=-1, keepdim=True)
    shifted = f - ideal
    d1 = (shifted * u).sum(dim=-1)
    d2 = (shifted - d1.unsqueeze(-1) * u).norm(dim=-1)
    return d1 + theta * d2


def decompose(kind: str, f: Tensor, weights: Tensor, ideal: Tensor, theta: float = 5.0) -> Tensor:
    """``tchebycheff`` or ``pbi`` by name (see those functions)."""
    if kind == "tchebycheff":
        return tchebycheff(f, weights, ideal)
    if kind == "pbi":
        return pbi(f, weights, ideal, theta)
    raise ValueError(f"decomposition={kind!r}; expected 'tchebycheff' or 'pbi'")


def better(v_new: Tensor, g_new: Tensor, v_old: Tensor, g_old: Tensor) -> Tensor:
    """Feasibility first: a smaller violation wins, then a smaller scalarized value (all broadcast)."""
    return (v_new < v_old) | ((v_new == v_old) & (g_new < g_old))


def first_per_group(group: Tensor, keys: list[Tensor]) -> Tensor:
    """Index of the smallest element (by ``keys``, lexicographic) of each group present in ``group``."""
    from .survival import lexsort

    order = lexsort([group, *keys])
    g = group[order]
    first = torch.ones_like(g, dtype=torch.bool)
    first[1:] = g[1:] != g[:-1]
    return order[first]
