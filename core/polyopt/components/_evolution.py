"""Evolutionary components: variation operators (kind ``operator``) and survivals (kind ``survival``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

import torch
from torch import Tensor

if TYPE_CHECKING:
    from polyopt.spaces import Space

__all__ = ["Crossover", "Mutation", "Operator", "OperatorFactory", "Survival", "Survivors"]


@runtime_checkable
class Crossover(Protocol):
    """Recombines parents into children; built for one space by an :class:`OperatorFactory`.

    Every random number comes from the generator it is called with (so runs repeat and resume exactly), and
    the call is batched over matings. Children may leave the space; the algorithm repairs them.
    """

    role: ClassVar[str]  # "crossover"
    n_parents: int
    n_offsprings: int

    def __call__(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        """``parents: P x n x d`` (``P = n_parents`` for each of ``n`` matings) -> ``O x n x d`` children
        (``O = n_offsprings``), same dtype and device."""
        ...


@runtime_checkable
class Mutation(Protocol):
    """Perturbs points; built for one space by an :class:`OperatorFactory`. Random numbers come from the
    generator it is called with."""

    role: ClassVar[str]  # "mutation"

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``x: n x d`` -> ``n x d`` mutated points, same dtype and device."""
        ...


Operator = Crossover | Mutation


class OperatorFactory(Protocol):
    """What an ``operator`` entry is: usually the operator class itself, built as ``factory(space, **options)``.

    ``role`` says which slot it fills (``"crossover"`` or ``"mutation"``) and ``space_kinds`` which space kinds
    it handles (``"continuous"``, ``"integer"``, ``"binary"``, ``"categorical"``, ``"permutation"``). Options
    come from the algorithm's config (``mutation="acme.gauss", mutation_options={"sigma": 0.3}``).

    Example (a complete plugin operator)::

        class Gauss:
            role = "mutation"
            space_kinds = frozenset({"continuous"})

            def __init__(self, space, *, sigma=0.1):
                self.scale = sigma * (space.upper - space.lower)

            def __call__(self, x, generator):
                noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
                return x + noise * self.scale.to(x)
    """

    role: str
    space_kinds: frozenset[str]

    def __call__(self, space: Space, /, **options: Any) -> Crossover | Mutation: ...


@dataclass
class Survivors:
    """The individuals a survival keeps.

    Attributes:
        index: ``k`` int64 indices into the merged population.
        rank: ``k`` int64 front ranks (infeasible points rank after every feasible front; 0 where a survival
            does not rank).
        crowding: ``k`` crowding distances (0 where a survival does not compute them).
    """

    index: Tensor
    rank: Tensor
    crowding: Tensor


@runtime_checkable
class Survival(Protocol):
    """Chooses the next population from merged parents and children (kind ``survival``).

    An entry is a class built as ``cls(**options)``; algorithms pass ``ref_dirs`` (``K x m`` reference
    directions) when its constructor takes that argument. Points are in minimization form; infeasible and
    failed points must rank behind every feasible one.
    """

    def __call__(
        self, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
    ) -> Survivors:
        """Choose at most ``n_survive`` of the ``N`` points.

        Args:
            f: ``N x m`` objectives (minimization form; failed rows ``+inf``).
            violation: ``N`` total constraint violation (0 feasible, ``+inf`` failed).
            n_survive: how many to keep (at most ``N``).
            generator: for tie-breaking and sampling.
        """
        ...

    def state_dict(self) -> dict[str, Any]:
        """Mutable state (tensors, numbers, containers) for exact resumes; ``{}`` when stateless."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        ...


def check_operator(target: Any) -> str | None:
    """Why ``target`` is not an operator factory, or None (the ``operator`` kind's registry check)."""
    role = getattr(target, "role", None)
    if role not in ("crossover", "mutation"):
        return f"expected a class with role = 'crossover' or 'mutation', got role={role!r}"
    kinds = getattr(target, "space_kinds", None)
    if not isinstance(kinds, (set, frozenset)) or not kinds:
        return f"expected space_kinds, a non-empty set of space kinds, got {kinds!r}"
    if not callable(target):
        return "expected a class or factory called as factory(space, **options)"
    return None


def check_survival(target: Any) -> str | None:
    """Why ``target`` is not a survival class, or None (the ``survival`` kind's registry check)."""
    if not isinstance(target, type):
        return "expected a class built as cls(**options)"
    missing = [m for m in ("__call__", "state_dict", "load_state_dict") if not hasattr(target, m)]
    return f"missing {', '.join(missing)}" if missing else None
