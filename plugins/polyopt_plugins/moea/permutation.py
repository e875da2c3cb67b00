"""Variation operators for permutations, batched over rows: OX, PMX, swap and inversion.

A permutation row holds each of ``0..L-1`` once (as floats, like every polyopt point). Every operator keeps
rows valid permutations, by construction rather than by repair.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.spaces import Space
from polyopt_plugins.moea.operators import Crossover, Mutation

__all__ = ["OrderCrossover", "PartiallyMappedCrossover", "SwapMutation", "InversionMutation"]


def _segments(
    n: int, length: int, like: Tensor, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """Two sorted cut points per row, ``start <= end`` (inclusive), each ``n x 1`` int64."""
    cuts = torch.randint(0, length, (n, 2), generator=generator, device=like.device)
    cuts = cuts.sort(dim=1).values
    return cuts[:, :1], cuts[:, 1:]


def _order_child(receiver: Tensor, donor: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """pymoo's OX without shift: the donor's segment ``[start, end]`` stays in place, the other positions
    take the receiver's remaining items in the receiver's order.

    Args:
        receiver: ``n x L`` int64 permutations.
        donor: ``n x L`` int64 permutations.
        start: ``n x 1`` segment starts.
        end: ``n x 1`` segment ends (inclusive).

    Returns:
        ``n x L`` int64 children.
    """
    n, length = receiver.shape
    pos = torch.arange(length, device=receiver.device).expand(n, length)
    in_seg = (pos >= start) & (pos <= end)  # n x L positions of the segment
    taken = torch.zeros(n, length, dtype=torch.bool, device=receiver.device)
    taken.scatter_(1, donor, in_seg)  # taken[r, v]: item v sits in the donor's segment
    keep = ~taken.gather(1, receiver)  # n x L: receiver items that fill the other positions
    k = torch.cumsum(keep.long(), dim=1) - 1  # order of each kept item among kept items
    target = torch.where(k < start, k, k + (end - start + 1))  # skip the segment's positions
    target = torch.where(
        keep, target, torch.full_like(target, length)
    )  # dropped items go to a spare slot
    child = torch.zeros(n, length + 1, dtype=receiver.dtype, device=receiver.device)
    child.scatter_(1, target, receiver)
    return torch.where(in_seg, donor, child[:, :length])


class OrderCrossover(Crossover):
    """Order crossover (OX), as pymoo's ``OrderCrossover`` without shift: child 1 keeps a segment of parent
    2 in place and fills the rest with parent 1's other items in parent 1's order; child 2 the reverse.

    Args:
        space: a Permutation.
        prob: probability that a mating recombines.
    """

    space_kinds = frozenset({"permutation"})

    def __init__(self, space: Space, *, prob: float = 0.9) -> None:
        super().__init__(space, prob=prob)

    def _do(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        a, b = parents[0].long(), parents[1].long()
        start, end = _segments(a.shape[0], a.shape[1], parents, generator)
        return torch.stack([_order_child(a, b, start, end), _order_child(b, a, start, end)]).to(
            parents.dtype
        )


def _pmx_child(base: Tensor, donor: Tensor, start: Tensor, end: Tensor) -> Tensor:
    """PMX: the donor's segment in place; outside it, the base's items, following the segment's mapping
    (donor item -> base item at the same position) until they leave the segment.

    Args:
        base: ``n x L`` int64 permutations.
        donor: ``n x L`` int64 permutations.
        start: ``n x 1`` segment starts.
        end: ``n x 1`` segment ends (inclusive).

    Returns:
        ``n x L`` int64 children.
    """
    n, length = base.shape
    pos = torch.arange(length, device=base.device).expand(n, length)
    in_seg = (pos >= start) & (pos <= end)
    in_donor_seg = torch.zeros(n, length, dtype=torch.bool, device=base.device)
    in_donor_seg.scatter_(1, donor, in_seg)  # item v is one of the donor's segment items
    mapping = torch.arange(length, device=base.device).expand(n, length).clone()
    mapping.scatter_(
        1, donor, torch.where(in_seg, base, donor)
    )  # donor[i] -> base[i] inside the segment
    values = base.clone()
    # a chain of mappings is at most as long as the segment; iterate a fixed number of times (one host read)
    for _ in range(int((end - start).max()) + 1):
        conflict = in_donor_seg.gather(1, values) & ~in_seg
        values = torch.where(conflict, mapping.gather(1, values), values)
    return torch.where(in_seg, donor, values)


class PartiallyMappedCrossover(Crossover):
    """Partially mapped crossover (PMX, Goldberg & Lingle 1985).

    Args:
        space: a Permutation.
        prob: probability that a mating recombines.
    """

    space_kinds = frozenset({"permutation"})

    def __init__(self, space: Space, *, prob: float = 0.9) -> None:
        super().__init__(space, prob=prob)

    def _do(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        a, b = parents[0].long(), parents[1].long()
        start, end = _segments(a.shape[0], a.shape[1], parents, generator)
        return torch.stack([_pmx_child(a, b, start, end), _pmx_child(b, a, start, end)]).to(
            parents.dtype
        )


class SwapMutation(Mutation):
    """Swap two random positions of each mutated row.

    Args:
        space: a Permutation.
        prob: probability that a row is mutated.
    """

    space_kinds = frozenset({"permutation"})

    def __init__(self, space: Space, *, prob: float = 1.0) -> None:
        super().__init__(space, prob=prob)

    def _do(self, x: Tensor, generator: torch.Generator) -> Tensor:
        i, j = _segments(x.shape[0], x.shape[1], x, generator)
        xi, xj = x.gather(1, i), x.gather(1, j)
        return x.scatter(1, i, xj).scatter(1, j, xi)


class InversionMutation(Mutation):
    """Reverse a random segment of each mutated row (pymoo's ``InversionMutation``).

    Args:
        space: a Permutation.
        prob: probability that a row is mutated.
    """

    space_kinds = frozenset({"permutation"})

    def __init__(self, space: Space, *, prob: float = 1.0) -> None:
        super().__init__(space, prob=prob)

    def _do(self, x: Tensor, generator: torch.Generator) -> Tensor:
        start, end = _segments(x.shape[0], x.shape[1], x, generator)
        pos = torch.arange(x.shape[1], device=x.device).expand_as(x)
        src = torch.where((pos >= start) & (pos <= end), start + end - pos, pos)
        return x.gather(1, src)
