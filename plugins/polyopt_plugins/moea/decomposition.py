"""Decomposition (MOEA/D): scalarizing functions, batched over any leading dimensions, and
:class:`Decomposition`, the subproblems an algorithm solves (weights, neighbourhoods, ideal point)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.moea.survival import lexsort

__all__ = ["Decomposition", "better", "decompose", "first_per_group", "pbi", "tchebycheff"]


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
    order = lexsort([group, *keys])
    g = group[order]
    first = torch.ones_like(g, dtype=torch.bool)
    first[1:] = g[1:] != g[:-1]
    return order[first]


class Decomposition:
    """The scalar subproblems of MOEA/D: one per weight vector, each with its neighbourhood.

    A subproblem's value of a point is ``decompose(kind, f, weight, ideal, theta)``; the ideal point is the
    lowest finite objective value seen so far (mutable state, in :meth:`state_dict`).

    Args:
        weights: ``N x m`` weight vectors, one per subproblem.
        n_neighbors: neighbourhood size ``T`` (nearest weight vectors, the subproblem itself included;
            at most ``N``).
        kind: ``"tchebycheff"`` or ``"pbi"``.
        theta: PBI's penalty.
    """

    def __init__(self, weights: Tensor, n_neighbors: int, kind: str, theta: float = 5.0) -> None:
        if kind not in ("tchebycheff", "pbi"):
            raise ValueError(f"decomposition={kind!r}; expected 'tchebycheff' or 'pbi'")
        self.weights = weights
        t = min(n_neighbors, weights.shape[0])
        distances = torch.cdist(weights, weights)
        #: ``N x T`` the nearest subproblems of each, itself first
        self.neighbors = distances.argsort(dim=1, stable=True)[:, :t]
        self.kind = kind
        self.theta = float(theta)
        #: ``m`` lowest finite objectives seen; None before the first update
        self.ideal: Tensor | None = None

    def __len__(self) -> int:
        return self.weights.shape[0]

    def __call__(self, f: Tensor, weights: Tensor) -> Tensor:
        """Subproblem values of ``f`` (``... x m``) under ``weights`` (``... x m``): ``...``, smaller is
        better."""
        if self.ideal is None:
            raise RuntimeError("no ideal point yet: call update_ideal first")
        return decompose(self.kind, f, weights, self.ideal, self.theta)

    def update_ideal(self, f_sel: Tensor, v_sel: Tensor) -> None:
        """Lower the ideal point with the finite values of ``f_sel`` (``k x m``) of rows whose violation
        ``v_sel`` (``k``) is finite (failed rows never count)."""
        ok = torch.isfinite(v_sel).unsqueeze(1) & torch.isfinite(f_sel)
        low = torch.where(ok, f_sel, torch.full_like(f_sel, float("inf"))).min(dim=0).values
        self.ideal = low if self.ideal is None else torch.minimum(self.ideal, low)

    def state_dict(self) -> dict[str, Any]:
        """The ideal point (weights and neighbourhoods follow from the config)."""
        return {"ideal": self.ideal}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.ideal = state["ideal"]
