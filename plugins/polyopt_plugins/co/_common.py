"""What the co solvers share: resolving a local search by name, with ``"auto"`` picking one for the
problem's structure."""

from __future__ import annotations

from typing import Any

import polyopt
from polyopt.components import LocalSearch
from polyopt.errors import ConfigError
from polyopt_plugins.co.local_search import routing_structure

__all__ = ["AUTO_LOCAL_SEARCH", "make_local_search"]

#: What ``local_search="auto"`` means for each problem structure.
AUTO_LOCAL_SEARCH = {"tsp": "two-opt-or-opt", "cvrp": "relocate-swap", "knapsack": "greedy-repair"}


def make_local_search(
    problem: Any, name: str | None, options: dict[str, Any] | None, owner: str
) -> LocalSearch | None:
    """The local search ``name`` built for ``problem`` (``factory(problem, **options)``), None for None.

    ``"auto"`` picks :data:`AUTO_LOCAL_SEARCH`'s entry for the problem's structure, or none when the problem
    exposes no structure a builtin local search reads (a plain permutation objective).

    Raises:
        ConfigError: an unknown name, or options given with no local search.
    """
    if name == "auto":
        structure = routing_structure(problem)
        name = AUTO_LOCAL_SEARCH.get(structure) if structure else None
    if name is None:
        if options:
            raise ConfigError(
                f"{owner}: local_search_options={options!r} given without a local search"
            )
        return None
    factory = polyopt.registry().get("local_search", name)
    built: LocalSearch = factory(problem, **(options or {}))
    return built
