"""Parent selection, batched: tournaments as pymoo runs them, random and neighbourhood selection.

Every function returns an ``n_select x n_parents`` int64 tensor of population indices.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "random_permutations",
    "binary_tournament",
    "random_selection",
    "distinct_indices",
    "neighborhood_selection",
]


def random_permutations(
    n_pop: int, n: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """``n`` indices from concatenated random permutations of ``range(n_pop)`` (pymoo's way of drawing
    tournament contestants: every individual takes part about equally often)."""
    n_perms = math.ceil(n / n_pop)
    keys = torch.rand(n_perms, n_pop, generator=generator, device=device)
    return keys.argsort(dim=1).reshape(-1)[:n]


def _random_winner(a: Tensor, b: Tensor, generator: torch.Generator) -> Tensor:
    coin = torch.rand(a.shape, generator=generator, device=a.device) < 0.5
    return torch.where(coin, a, b)


def _prefer(better_a: Tensor, better_b: Tensor, a: Tensor, b: Tensor, fallback: Tensor) -> Tensor:
    return torch.where(better_a, a, torch.where(better_b, b, fallback))


def binary_tournament(
    f: Tensor,
    violation: Tensor,
    n_select: int,
    n_parents: int,
    generator: torch.Generator,
    *,
    crowding: Tensor | None = None,
    rank: Tensor | None = None,
    compare: str = "dominance",
) -> Tensor:
    """Binary tournaments, each decided as pymoo's NSGA-II / SMS-EMOA / NSGA-III tournaments.

    If either contestant is infeasible the smaller violation wins. Otherwise, by ``compare``:
    ``"dominance"`` (a dominating contestant wins; pymoo NSGA-II's ``comp_by_dom_and_crowding`` and
    SMS-EMOA's tournament), ``"rank"`` (the lower rank wins) or ``"random"`` (NSGA-III's
    ``comp_by_cv_then_random``). Undecided contests go to the larger ``crowding`` when given, and then to a
    fair coin.

    Args:
        f: ``N x m`` objectives (minimized).
        violation: ``N`` total violation (0 feasible).
        n_select: number of matings.
        n_parents: parents per mating.
        generator: random generator on ``f``'s device.
        crowding: optional ``N`` crowding distances (larger is better).
        rank: ``N`` front ranks, needed by ``compare="rank"``.
        compare: ``"dominance"``, ``"rank"`` or ``"random"``.

    Returns:
        ``n_select x n_parents`` int64 winners.
    """
    k = n_select * n_parents
    pairs = random_permutations(f.shape[0], 2 * k, generator, f.device).reshape(k, 2)
    a, b = pairs[:, 0], pairs[:, 1]
    va, vb = violation[a], violation[b]
    coin = _random_winner(a, b, generator)
    by_cv = _prefer(va < vb, vb < va, a, b, coin)
    undecided = torch.full_like(a, -1)
    if compare == "dominance":
        fa, fb = f[a], f[b]
        a_dom = (fa <= fb).all(dim=1) & (fa < fb).any(dim=1)
        b_dom = (fb <= fa).all(dim=1) & (fb < fa).any(dim=1)
        decided = _prefer(a_dom, b_dom, a, b, undecided)
    elif compare == "rank":
        if rank is None:
            raise ValueError("compare='rank' needs rank")
        decided = _prefer(rank[a] < rank[b], rank[b] < rank[a], a, b, undecided)
    elif compare == "random":
        decided = undecided
    else:
        raise ValueError(f"compare={compare!r}; expected 'dominance', 'rank' or 'random'")
    if crowding is not None:
        ca, cb = crowding[a], crowding[b]
        tie_break = _prefer(ca > cb, cb > ca, a, b, coin)
    else:
        tie_break = coin
    feasible_winner = torch.where(decided >= 0, decided, tie_break)
    winner = torch.where((va > 0) | (vb > 0), by_cv, feasible_winner)
    return winner.reshape(n_select, n_parents)


def random_selection(
    n_pop: int, n_select: int, n_parents: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """Parents drawn from random permutations (pymoo's ``RandomSelection``): ``n_select x n_parents``."""
    return random_permutations(n_pop, n_select * n_parents, generator, device).reshape(
        n_select, n_parents
    )


def distinct_indices(
    n_rows: int, n_pop: int, k: int, generator: torch.Generator, device: torch.device
) -> Tensor:
    """``n_rows x k`` indices into ``range(n_pop)``, distinct within each row, uniformly drawn without an
    ``n_rows x n_pop`` matrix: the j-th draw is uniform over ``n_pop - j`` slots and skips the earlier draws
    in ascending order."""
    if k > n_pop:
        raise ValueError(f"cannot draw {k} distinct indices from {n_pop}")
    chosen: list[Tensor] = []
    for j in range(k):  # over parents (2-4), not individuals
        x = torch.randint(0, n_pop - j, (n_rows,), generator=generator, device=device)
        if chosen:
            for s in torch.stack(chosen, dim=1).sort(dim=1).values.unbind(1):
                x = x + (x >= s).long()
        chosen.append(x)
    return torch.stack(chosen, dim=1)


def neighborhood_selection(
    neighbors: Tensor, n_pop: int, n_parents: int, prob_neighbor: float, generator: torch.Generator
) -> Tensor:
    """MOEA/D mating: for each row of ``neighbors`` (``n x T``), ``n_parents`` distinct neighbours with
    probability ``prob_neighbor``, else distinct members of the whole population (``n_pop`` of them).

    Returns:
        ``n x n_parents`` int64 indices.
    """
    n, t = neighbors.shape
    dev = neighbors.device
    shuffled = torch.rand(n, t, generator=generator, device=dev).argsort(dim=1)
    local = neighbors.gather(1, shuffled[:, :n_parents])
    anywhere = distinct_indices(n, n_pop, n_parents, generator, dev)
    use_local = torch.rand(n, 1, generator=generator, device=dev) < prob_neighbor
    return torch.where(use_local, local, anywhere)
