"""Combinatorial problems, each both an Objective and a constructive Environment.

- :mod:`~polyopt_envs.co.tsp`: TSP (random uniform instances, TSPLIB files) over ``Permutation(n)`` tours,
  and :class:`TSPEnv`, batched masked tour construction.
- :mod:`~polyopt_envs.co.cvrp`: CVRP and open CVRP over giant tours cut by the optimal split, and
  :class:`CVRPEnv` / :class:`OpenCVRPEnv`, route construction with capacity masks.
- :mod:`~polyopt_envs.co.knapsack`: 0/1 and multi-objective knapsack over ``Binary(n)`` with exact DP
  references, and :class:`KnapsackEnv`.
- :mod:`~polyopt_envs.co.tsplib`: the TSPLIB reader and distance functions (EUC_2D, CEIL_2D, ATT, GEO).
"""

from __future__ import annotations

from polyopt_envs.co._construct import ConstructiveEnv, repair_actions
from polyopt_envs.co.cvrp import (
    CVRP,
    CVRPEnv,
    OpenCVRP,
    OpenCVRPEnv,
    arc_costs,
    default_capacity,
    sequence_cost,
    split,
    split_sequences,
    uniform_cvrp,
)
from polyopt_envs.co.knapsack import (
    Knapsack,
    KnapsackEnv,
    MOKnapsack,
    knapsack_dp,
    pareto_knapsack,
    uniform_knapsack,
)
from polyopt_envs.co.tsp import (
    TSP,
    TSPEnv,
    euclidean_distances,
    tour_length,
    tsplib_env,
    uniform_tsp,
)
from polyopt_envs.co.tsplib import (
    DISTANCE_TYPES,
    TSPLIBInstance,
    parse_tsplib,
    read_tour,
    read_tsplib,
    tsplib_distances,
)

__all__ = [
    "CVRP",
    "CVRPEnv",
    "ConstructiveEnv",
    "DISTANCE_TYPES",
    "Knapsack",
    "KnapsackEnv",
    "MOKnapsack",
    "OpenCVRP",
    "OpenCVRPEnv",
    "TSP",
    "TSPEnv",
    "TSPLIBInstance",
    "arc_costs",
    "default_capacity",
    "euclidean_distances",
    "knapsack_dp",
    "pareto_knapsack",
    "parse_tsplib",
    "read_tour",
    "read_tsplib",
    "repair_actions",
    "sequence_cost",
    "split",
    "split_sequences",
    "tour_length",
    "tsplib_distances",
    "tsplib_env",
    "uniform_cvrp",
    "uniform_knapsack",
    "uniform_tsp",
]
