"""Registers the combinatorial-optimization family: solvers and the ``local_search`` component kind."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_PKG = "polyopt_plugins.co"

_OPTIMIZERS = {
    "ant-system": ("aco:AntSystem", "Ant System, tensorized over ants; TSP and CVRP, local search"),
    "mmas": (
        "aco:MaxMinAntSystem",
        "MAX-MIN Ant System, tensorized over ants; TSP and CVRP, local search of the best ants",
    ),
    "mmas-knapsack": (
        "aco_knapsack:KnapsackAntColony",
        "MAX-MIN ant colony for the 0/1 knapsack (item trails), tensorized over ants",
    ),
    "pomo": (
        "pomo:POMO",
        "POMO attention policy for TSP: REINFORCE, shared multi-start baseline, x8 augmentation",
    ),
    "pomo-cvrp": (
        "pomo_cvrp:POMOCVRP",
        "POMO attention policy for CVRP and open CVRP: depot/customer embeddings, capacity context",
    ),
    "pomo-knapsack": (
        "pomo_knapsack:POMOKnapsack",
        "POMO attention policy for the 0/1 knapsack: multi-start from every item, capacity context",
    ),
    "ga": (
        "ga:GeneticAlgorithm",
        "single-objective GA for permutations and bits (OX/PMX/swap/inversion, bit-flip), memetic",
    ),
}

_LOCAL_SEARCHES = {
    "two-opt": ("local_search:TwoOpt", "best-improvement 2-opt on tours, batched"),
    "or-opt": (
        "local_search:OrOpt",
        "best-improvement Or-opt (1-3 cities, kept or reversed), batched",
    ),
    "two-opt-or-opt": ("local_search:TwoOptOrOpt", "2-opt then Or-opt until neither improves"),
    "relocate-swap": ("local_search:RelocateSwap", "relocate and swap on CVRP routes, batched"),
    "greedy-repair": ("local_search:GreedyRepair", "knapsack: drop worst-ratio items, add best"),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    from polyopt.components import LocalSearchFactory
    from polyopt.components._combinatorial import check_local_search

    registry.add_kind(
        "local_search",
        LocalSearchFactory,
        "improves many solutions of one problem at once (2-opt, relocate/swap), built as "
        "factory(problem, **options)",
        check=check_local_search,
    )
    for name, (target, summary) in _OPTIMIZERS.items():
        registry.add("optimizer", name, f"{_PKG}.{target}", summary=summary)
    for name, (target, summary) in _LOCAL_SEARCHES.items():
        registry.add("local_search", name, f"{_PKG}.{target}", summary=summary)
