"""Combinatorial components: local searches (kind ``local_search``, declared by the co family).

A local search improves many candidate solutions of one problem at once (2-opt on tours, relocate/swap on
routes, a greedy repair of packings) and is used by solvers as a step of their own: the ant colonies improve
their best ants with it, the genetic algorithm its offspring (a memetic step).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from torch import Tensor

if TYPE_CHECKING:
    from polyopt.objective import Objective

__all__ = ["STRUCTURES", "LocalSearch", "LocalSearchFactory", "check_local_search"]

#: The problem structures a local search may read, by name:
#: ``"tsp"`` — ``distances`` (``n x n``) over a Permutation of the ``n`` cities;
#: ``"cvrp"`` — ``distances`` (``(n+1) x (n+1)`` arc costs, depot 0), ``demands`` (``n+1``) and ``capacity``,
#: over a Permutation of the ``n`` customers (a giant tour, split into routes by the problem);
#: ``"knapsack"`` — ``weights`` (``n``), ``values`` (``m x n``) and ``capacity`` over Binary(n).
STRUCTURES = ("tsp", "cvrp", "knapsack")


@runtime_checkable
class LocalSearch(Protocol):
    """Improves points of the problem it was built for; deterministic (no random numbers)."""

    def __call__(self, x: Tensor) -> Tensor:
        """``x: n x d`` valid points -> ``n x d`` valid points, same dtype and device, each no worse than its
        input: a lower total violation, or an equal one and objective values no higher (minimization form)."""
        ...


class LocalSearchFactory(Protocol):
    """What a ``local_search`` entry is: built for one problem as ``factory(problem, **options)``.

    ``structures`` names the problem structures it reads (see :data:`STRUCTURES`); the factory raises
    :class:`~polyopt.ConfigError` for a problem without them.

    Example (a complete plugin local search: one pass of adjacent swaps on tours)::

        class AdjacentSwap:
            structures = frozenset({"tsp"})

            def __init__(self, problem):
                self.problem = problem

            def __call__(self, x):
                best, f = x, polyopt.evaluate(self.problem, x).f[:, 0]
                for i in range(x.shape[1] - 1):
                    y = best.clone()
                    y[:, [i, i + 1]] = best[:, [i + 1, i]]
                    fy = polyopt.evaluate(self.problem, y).f[:, 0]
                    better = fy < f
                    best, f = torch.where(better[:, None], y, best), torch.where(better, fy, f)
                return best
    """

    structures: frozenset[str]

    def __call__(self, problem: Objective, /, **options: Any) -> LocalSearch: ...


def check_local_search(target: Any) -> str | None:
    """Why ``target`` is not a local-search factory, or None (the ``local_search`` kind's registry check)."""
    structures = getattr(target, "structures", None)
    if not isinstance(structures, (set, frozenset)) or not structures:
        return f"expected structures, a non-empty set of problem structures, got {structures!r}"
    unknown = sorted(set(structures) - set(STRUCTURES))
    if unknown:
        return f"structures {unknown} are not among {list(STRUCTURES)}"
    if not callable(target):
        return "expected a class or factory called as factory(problem, **options)"
    return None
