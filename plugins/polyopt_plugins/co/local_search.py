"""Batched local search: 2-opt and Or-opt on tours, relocate/swap on routes, a greedy knapsack repair.

Every kernel improves a whole batch of solutions at once: each iteration scores every move of every
solution as one tensor (``B x n x n``), applies each solution's best improving move, and stops when no
solution improves (or after ``max_iters``). Best improvement, not first: one iteration is a handful of
tensor operations, so the loop count, not the move count, is what costs time. Solutions that stopped
improving drop out of the batch.

The registered factories (kind ``local_search``) wrap the kernels for one problem: ``two-opt``, ``or-opt`` and
``two-opt-or-opt`` for TSP-like problems (``distances`` over a Permutation), ``relocate-swap`` for CVRP-like
ones (giant tours: split into routes, improved, and read back; the split of the improved order is never worse
than the improved routes), ``greedy-repair`` for knapsacks.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt_envs.co import split, split_sequences

__all__ = [
    "GreedyRepair",
    "OrOpt",
    "RelocateSwap",
    "TwoOpt",
    "TwoOptOrOpt",
    "or_opt",
    "relocate_swap",
    "TOUR_KERNELS",
    "routing_structure",
    "two_opt",
    "two_opt_or_opt",
]

_EPS = 1e-9


def routing_structure(problem: Any) -> str | None:
    """``"cvrp"``, ``"tsp"``, ``"knapsack"`` or None: the structure ``problem`` exposes (see
    :data:`polyopt.components.STRUCTURES`)."""
    kind = getattr(getattr(problem, "space", None), "kind", None)
    if kind == "permutation" and isinstance(getattr(problem, "distances", None), Tensor):
        if hasattr(problem, "demands") and hasattr(problem, "capacity"):
            return "cvrp"
        return "tsp"
    if kind == "binary" and all(hasattr(problem, a) for a in ("weights", "values", "capacity")):
        return "knapsack"
    return None


def _pairs(dist: Tensor, t: Tensor) -> Tensor:
    """``P[b, a, c] = dist[t[b, a], t[b, c]]``: ``B x n x n`` from ``dist`` (``N x N`` or ``B x N x N``)."""
    if dist.dim() == 2:
        return dist[t.unsqueeze(2), t.unsqueeze(1)]
    rows = torch.arange(t.shape[0], device=t.device).view(-1, 1, 1)
    return dist[rows, t.unsqueeze(2), t.unsqueeze(1)]


def _rows(dist: Tensor, active: Tensor) -> Tensor:
    return dist if dist.dim() == 2 else dist[active]


def _improve(
    t: Tensor, dist: Tensor, max_iters: int, best_move: Any, apply_move: Any
) -> tuple[Tensor, int]:
    """The loop every kernel shares: score, apply the best improving move of each active row, drop rows
    that no longer improve. Returns the improved rows and the iterations run."""
    active = torch.arange(t.shape[0], device=t.device)
    iters = 0
    for iters in range(1, max_iters + 1):  # noqa: B007  # the count is returned
        sub = t[active]
        delta, move = best_move(sub, _rows(dist, active))  # delta: B, or B x k candidates
        improving = delta.view(delta.shape[0], -1).min(dim=1).values < -_EPS
        if not bool(improving.any()):
            break
        keep = active[improving]
        t[keep] = apply_move(sub[improving], *(m[improving] for m in (delta, *move)))
        active = keep
    return t, iters


# ---- 2-opt -------------------------------------------------------------------------------------------------
#: 2-opt applies up to this many improving moves with disjoint segments per iteration (fewer loop turns)
_MOVES_PER_ITER = 8


def _two_opt_best(t: Tensor, dist: Tensor) -> tuple[Tensor, tuple[Tensor]]:
    """Each row's best reversal ``t[i+1..j]`` for every ``i`` (``B x n`` deltas and ends ``j``)."""
    n = t.shape[1]
    p = _pairs(dist, t)  # B x n x n
    pn = p.roll(shifts=(-1, -1), dims=(1, 2))  # d(t[i+1], t[j+1])
    edge = p.diagonal(offset=1, dim1=1, dim2=2)  # d(t[i], t[i+1]) for i < n-1
    edge = torch.cat([edge, p[:, -1, :1]], dim=1)  # and the closing edge
    delta = p + pn - edge.unsqueeze(2) - edge.unsqueeze(1)  # B x n x n: reverse t[i+1..j]
    i = torch.arange(n, device=t.device).unsqueeze(1)
    j = torch.arange(n, device=t.device).unsqueeze(0)
    valid = (j >= i + 2) & ~((i == 0) & (j == n - 1))
    best, end = torch.where(valid, delta, torch.inf).min(dim=2)  # B x n
    return best, (end,)


def _two_opt_apply(t: Tensor, delta: Tensor, end: Tensor) -> Tensor:
    """Apply the best moves whose position ranges ``[i, j+1]`` are disjoint (their deltas stay exact)."""
    n = t.shape[1]
    k = min(_MOVES_PER_ITER, n)
    value, start = delta.topk(k, dim=1, largest=False)  # B x k, best first
    stop = end.gather(1, start)
    pos = torch.arange(n, device=t.device).expand_as(t)
    used = torch.zeros_like(t, dtype=torch.bool)
    src = pos
    for c in range(k):
        lo, hi = start[:, c : c + 1], stop[:, c : c + 1]  # the move touches positions lo..hi+1
        span = (pos >= lo) & (pos <= hi + 1)
        ok = (value[:, c : c + 1] < -_EPS) & ~(used & span).any(dim=1, keepdim=True)
        used = used | (span & ok)
        seg = (pos > lo) & (pos <= hi) & ok
        src = torch.where(seg, lo + 1 + hi - pos, src)
    return t.gather(1, src)


def two_opt(tours: Tensor, dist: Tensor, max_iters: int = 1000) -> Tensor:
    """Best-improvement 2-opt on closed tours, batched.

    Args:
        tours: ``B x n`` city orders (integer-valued).
        dist: ``n x n`` symmetric distances, or ``B x n x n`` (one instance per tour).
        max_iters: most improving moves per tour.

    Returns:
        ``B x n`` int64 tours, each no longer than its input.
    """
    t = tours.long().clone()
    if t.shape[1] < 4:
        return t
    return _improve(t, dist, max_iters, _two_opt_best, _two_opt_apply)[0]


# ---- Or-opt ------------------------------------------------------------------------------------------------
def _or_opt_best(t: Tensor, dist: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Best move of a segment of 1-3 cities (``t[i..i+L-1]``, kept or reversed) to another edge
    ``(t[j], t[j+1])``."""
    b, n = t.shape
    p = _pairs(dist, t)
    pt = p.transpose(1, 2)
    edge = torch.cat([p.diagonal(offset=1, dim1=1, dim2=2), p[:, -1, :1]], dim=1)  # B x n
    pos = torch.arange(n, device=t.device)
    i, j = pos.unsqueeze(1), pos.unsqueeze(0)
    best = torch.full((b,), torch.inf, dtype=p.dtype, device=t.device)
    code = torch.zeros(b, 3, dtype=torch.long, device=t.device)  # length, reversed, flat index
    for length in (1, 2, 3):
        if n < length + 3:
            break
        last = (pos + length - 1) % n
        after = (pos + length) % n
        before = (pos - 1) % n
        bridge = p[:, before, after]  # B x n: d(t[i-1], t[i+L])
        gain = edge.gather(1, before.expand(b, n)) + edge.gather(1, last.expand(b, n)) - bridge
        inside = ((j - i) % n <= length - 1) | ((j - i) % n == n - 1)  # edges touching the segment
        valid = (i <= n - length) & ~inside
        for rev in (False, True) if length > 1 else (False,):
            if rev:  # d(t[j], t[i+L-1]) + d(t[i], t[j+1])
                add = pt.roll(-(length - 1), dims=1) + p.roll(-1, dims=2)
            else:  # d(t[j], t[i]) + d(t[i+L-1], t[j+1])
                add = pt + p.roll(shifts=(-(length - 1), -1), dims=(1, 2))
            delta = add - edge.unsqueeze(1) - gain.unsqueeze(2)
            value, arg = torch.where(valid, delta, torch.inf).flatten(1).min(dim=1)
            better = value < best
            best = torch.where(better, value, best)
            new = torch.stack(
                [torch.full_like(arg, length), torch.full_like(arg, int(rev)), arg], 1
            )
            code = torch.where(better.unsqueeze(1), new, code)
    return best, (code,)


def _or_opt_apply(t: Tensor, delta: Tensor, code: Tensor) -> Tensor:
    n = t.shape[1]
    length, rev, flat = code[:, :1], code[:, 1:2], code[:, 2:]
    i, j = flat // n, flat % n
    pos = torch.arange(n, device=t.device).expand_as(t)
    offset = pos - i
    in_seg = (offset >= 0) & (offset < length)
    order = torch.where(rev.bool(), length - 1 - offset, offset).to(torch.float64)
    key = torch.where(in_seg, j + 0.5 + order * 1e-3, pos.to(torch.float64))
    return t.gather(1, key.argsort(dim=1))


def or_opt(tours: Tensor, dist: Tensor, max_iters: int = 1000) -> Tensor:
    """Best-improvement Or-opt on closed tours, batched: move a segment of 1, 2 or 3 cities, kept or
    reversed, to another edge.

    Args:
        tours: ``B x n`` city orders.
        dist: ``n x n`` symmetric distances, or ``B x n x n``.
        max_iters: most improving moves per tour.

    Returns:
        ``B x n`` int64 tours, each no longer than its input.
    """
    t = tours.long().clone()
    if t.shape[1] < 4:
        return t
    return _improve(t, dist, max_iters, _or_opt_best, _or_opt_apply)[0]


def two_opt_or_opt(tours: Tensor, dist: Tensor, max_iters: int = 1000) -> Tensor:
    """2-opt, then Or-opt, repeated until neither improves: tours that are 2-opt and Or-opt optimal.

    Args and returns as :func:`two_opt`.
    """
    t = tours.long()
    for _ in range(max_iters):
        moved = or_opt(two_opt(t, dist, max_iters), dist, max_iters)
        if torch.equal(moved, t):
            break
        t = moved
    return t


#: The tour kernels by name, as :func:`~polyopt_plugins.co.aco.solve_tsp` takes them.
TOUR_KERNELS = {"two-opt": two_opt, "or-opt": or_opt, "two-opt-or-opt": two_opt_or_opt}


# ---- relocate / swap on routes -----------------------------------------------------------------------------
def _route_moves(
    seq: Tensor, costs: Tensor, demands: Tensor, capacity: Tensor
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """Best relocate (customer at ``i`` to edge ``(j, j+1)``) or swap (customers at ``i < j``) per row that
    keeps every route within capacity. ``seq``: ``B x L`` depot-separated node sequences."""
    b, length = seq.shape
    p = _pairs(costs, seq)  # B x L x L arc costs between positions
    pt = p.transpose(1, 2)
    edge = torch.cat([p.diagonal(offset=1, dim1=1, dim2=2), p[:, -1, :1]], dim=1)  # d(s[k], s[k+1])
    prev_edge = edge.roll(1, dims=1)  # d(s[k-1], s[k])
    dem = demands.gather(1, seq) if demands.dim() == 2 else demands[seq]  # B x L
    route = (seq == 0).long().cumsum(dim=1)  # route id of each position (a depot opens the next)
    load = torch.zeros(b, length + 1, dtype=dem.dtype, device=seq.device).scatter_add(1, route, dem)
    route_load = load.gather(1, route)  # B x L: load of the route each position belongs to
    cap = capacity.view(-1, 1, 1) * (1 + 1e-12)
    pos = torch.arange(length, device=seq.device)
    i, j = pos.view(1, -1, 1), pos.view(1, 1, -1)
    customer = (seq != 0).unsqueeze(2)
    # relocate: remove s[i] (bridge s[i-1] -> s[i+1]), insert it between s[j] and s[j+1]
    bridge = p.roll(1, dims=1).roll(-1, dims=2).diagonal(dim1=1, dim2=2)  # d(s[i-1], s[i+1])
    gain = prev_edge + edge - bridge
    insert = pt + p.roll(-1, dims=2) - edge.unsqueeze(1)
    same = route.unsqueeze(2) == route.unsqueeze(1)
    fits = route_load.unsqueeze(1) + dem.unsqueeze(2) <= cap
    ok = customer & (j <= length - 2) & (j != i) & (j != i - 1) & (same | fits)
    reloc, reloc_arg = torch.where(ok, insert - gain.unsqueeze(2), torch.inf).flatten(1).min(dim=1)
    # swap s[i] and s[j], i < j
    far = (
        p.roll(1, dims=1)  # d(s[i-1], s[j])
        + pt.roll(-1, dims=1)  # d(s[j], s[i+1])
        + pt.roll(1, dims=2)  # d(s[j-1], s[i])
        + p.roll(-1, dims=2)  # d(s[i], s[j+1])
        - (prev_edge + edge).unsqueeze(2)
        - (prev_edge + edge).unsqueeze(1)
    )
    near = p.roll(1, dims=1) + pt + p.roll(-1, dims=2)
    near = near - (prev_edge + edge).unsqueeze(2) - edge.unsqueeze(1)  # j = i + 1
    delta = torch.where(j == i + 1, near, far)
    swapped_i = route_load.unsqueeze(2) - dem.unsqueeze(2) + dem.unsqueeze(1) <= cap
    swapped_j = route_load.unsqueeze(1) - dem.unsqueeze(1) + dem.unsqueeze(2) <= cap
    ok = customer & customer.transpose(1, 2) & (j > i) & (same | (swapped_i & swapped_j))
    swap, swap_arg = torch.where(ok, delta, torch.inf).flatten(1).min(dim=1)
    use_swap = swap < reloc
    best = torch.where(use_swap, swap, reloc)
    return best, (use_swap, torch.where(use_swap, swap_arg, reloc_arg))


def _route_apply(seq: Tensor, use_swap: Tensor, flat: Tensor) -> Tensor:
    length = seq.shape[1]
    i, j = (flat // length).unsqueeze(1), (flat % length).unsqueeze(1)
    pos = torch.arange(length, device=seq.device).expand_as(seq)
    swapped = torch.where(pos == i, j, torch.where(pos == j, i, pos))
    key = torch.where(pos == i, j.to(torch.float64) + 0.5, pos.to(torch.float64))
    src = torch.where(use_swap.unsqueeze(1), swapped, key.argsort(dim=1))
    return seq.gather(1, src)


def relocate_swap(
    seq: Tensor, costs: Tensor, demands: Tensor, capacity: Tensor | float, max_iters: int = 1000
) -> Tensor:
    """Best-improvement relocate and swap on depot-separated route sequences, batched.

    Args:
        seq: ``B x L`` node sequences starting and ending at the depot 0, routes separated by 0 (extra zeros
            are empty routes a customer may move into).
        costs: ``N x N`` or ``B x N x N`` arc costs (open routes: free arcs into the depot).
        demands: ``N`` or ``B x N`` demands, depot first.
        capacity: a number or ``B`` capacities.
        max_iters: most improving moves per row.

    Returns:
        ``B x L`` int64 sequences, each no costlier than its input and within capacity.
    """
    s = seq.long().clone()
    cap = torch.as_tensor(capacity, dtype=costs.dtype, device=s.device).expand(s.shape[0]).clone()
    batched = demands.dim() == 2

    def best(sub: Tensor, sub_costs: Tensor, rows: Tensor) -> tuple[Tensor, tuple[Tensor, ...]]:
        return _route_moves(sub, sub_costs, demands[rows] if batched else demands, cap[rows])

    active = torch.arange(s.shape[0], device=s.device)
    for _ in range(max_iters):
        delta, (use_swap, flat) = best(s[active], _rows(costs, active), active)
        improving = delta < -_EPS
        if not bool(improving.any()):
            break
        keep = active[improving]
        s[keep] = _route_apply(s[keep], use_swap[improving], flat[improving])
        active = keep
    return s


# ---- factories (kind ``local_search``) ---------------------------------------------------------------------
def _need(problem: Any, structure: str, who: str) -> None:
    found = routing_structure(problem)
    if found != structure:
        raise ConfigError(
            f"local search {who!r} needs a {structure} problem (see polyopt.components.STRUCTURES); "
            f"{getattr(problem, 'name', type(problem).__name__)} exposes {found or 'no such structure'}"
        )


def _check_iters(max_iters: int) -> int:
    if isinstance(max_iters, bool) or not isinstance(max_iters, int) or max_iters < 1:
        raise ConfigError(f"max_iters={max_iters!r}; expected a positive integer")
    return max_iters


class TwoOpt:
    """2-opt on the tours of a TSP-like problem.

    Args:
        problem: exposes ``distances`` (``n x n``, symmetric) over ``Permutation(n)``.
        max_iters: most improving moves per tour and call.
    """

    structures = frozenset({"tsp"})
    name = "two-opt"

    def __init__(self, problem: Any, *, max_iters: int = 1000) -> None:
        _need(problem, "tsp", self.name)
        self.distances: Tensor = problem.distances
        self.max_iters = _check_iters(max_iters)

    def kernel(self, tours: Tensor, dist: Tensor) -> Tensor:
        return two_opt(tours, dist, self.max_iters)

    def __call__(self, x: Tensor) -> Tensor:
        """``x: B x n`` tours -> ``B x n`` improved tours, same dtype."""
        return self.kernel(x, self.distances.to(x.device)).to(x.dtype)


class OrOpt(TwoOpt):
    """Or-opt (segments of 1-3 cities moved, kept or reversed) on the tours of a TSP-like problem."""

    name = "or-opt"

    def kernel(self, tours: Tensor, dist: Tensor) -> Tensor:
        return or_opt(tours, dist, self.max_iters)


class TwoOptOrOpt(TwoOpt):
    """2-opt, then Or-opt, repeated until neither improves (a tour that is 2-opt and Or-opt optimal)."""

    name = "two-opt-or-opt"

    def kernel(self, tours: Tensor, dist: Tensor) -> Tensor:
        return two_opt_or_opt(tours, dist, self.max_iters)


class RelocateSwap:
    """Relocate and swap on the routes of a CVRP-like problem's giant tours.

    Args:
        problem: exposes ``distances`` (arc costs), ``demands`` and ``capacity`` over ``Permutation(n)``.
        max_iters: most improving moves per solution and call.
    """

    structures = frozenset({"cvrp"})

    def __init__(self, problem: Any, *, max_iters: int = 1000) -> None:
        _need(problem, "cvrp", "relocate-swap")
        self.costs: Tensor = problem.distances
        self.demands: Tensor = problem.demands
        self.capacity = float(problem.capacity)
        self.max_iters = _check_iters(max_iters)

    def __call__(self, x: Tensor) -> Tensor:
        """``x: B x n`` giant tours -> ``B x n`` giant tours whose optimal split is no costlier."""
        costs, demands = self.costs.to(x.device), self.demands.to(x.device)
        _, starts = split(x, costs, demands, self.capacity)
        # room for two more routes than the split used; more padding only costs time (L x L moves)
        length = min(x.shape[1] + int(starts.sum(dim=1).max()) + 3, 2 * x.shape[1] + 1)
        seq = split_sequences(x, starts)[:, :length]
        seq = relocate_swap(seq, costs, demands, self.capacity, self.max_iters)
        perm = (
            seq[seq != 0].view(x.shape[0], x.shape[1]) - 1
        )  # drop the depot visits, keep the order
        return perm.to(x.dtype)


class GreedyRepair:
    """Knapsack repair and fill: drop the packed items of lowest value-to-weight ratio until the packing
    fits, then add the unpacked items of highest ratio that fit (values summed over value vectors).

    Args:
        problem: exposes ``weights`` (``n``), ``values`` (``m x n``) and ``capacity`` over ``Binary(n)``.
    """

    structures = frozenset({"knapsack"})

    def __init__(self, problem: Any) -> None:
        _need(problem, "knapsack", "greedy-repair")
        self.weights: Tensor = problem.weights
        self.ratio: Tensor = problem.values.sum(dim=0) / problem.weights.clamp_min(1e-12)
        self.capacity = float(problem.capacity)

    def __call__(self, x: Tensor) -> Tensor:
        """``x: B x n`` 0/1 packings -> ``B x n`` feasible packings (feasible inputs only gain items)."""
        w = self.weights.to(x.device, torch.float64)
        order = self.ratio.to(x.device).argsort()  # worst ratio first
        packed = x.to(torch.bool).clone()
        load = packed.to(torch.float64) @ w
        for item in order.tolist():  # drop until it fits
            drop = packed[:, item] & (load > self.capacity)
            packed[:, item] &= ~drop
            load = load - torch.where(drop, w[item], 0.0)
        for item in order.flip(0).tolist():  # then fill, best ratio first
            add = ~packed[:, item] & (load + w[item] <= self.capacity)
            packed[:, item] |= add
            load = load + torch.where(add, w[item], 0.0)
        return packed.to(x.dtype)
