"""Registers the builtin problems."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_OBJECTIVES = {
    "sphere": ("basic:Sphere", "sum of squares, any dimension; optimum 0"),
    "rastrigin": ("basic:Rastrigin", "highly multimodal, any dimension; optimum 0"),
    "cec2022-f1": ("cec2022:CEC2022F1", "CEC 2022 F1, shifted, rotated Zakharov; optimum 300"),
    "cec2022-f2": ("cec2022:CEC2022F2", "CEC 2022 F2, shifted, rotated Rosenbrock; optimum 400"),
    "cec2022-f3": ("cec2022:CEC2022F3", "CEC 2022 F3, shifted, rotated Schaffer F7; optimum 600"),
    "cec2022-f4": ("cec2022:CEC2022F4", "CEC 2022 F4, shifted, rotated Rastrigin; optimum 800"),
    "cec2022-f5": ("cec2022:CEC2022F5", "CEC 2022 F5, shifted, rotated Levy; optimum 900"),
    "cec2022-f6": (
        "cec2022:CEC2022F6",
        "CEC 2022 F6, hybrid: Bent Cigar, HGBat, Rastrigin; optimum 1800",
    ),
    "cec2022-f7": ("cec2022:CEC2022F7", "CEC 2022 F7, hybrid of 6 functions; optimum 2000"),
    "cec2022-f8": ("cec2022:CEC2022F8", "CEC 2022 F8, hybrid of 5 functions; optimum 2200"),
    "cec2022-f9": ("cec2022:CEC2022F9", "CEC 2022 F9, composition of 5 functions; optimum 2300"),
    "cec2022-f10": (
        "cec2022:CEC2022F10",
        "CEC 2022 F10, composition: Schwefel, Rastrigin, HGBat; optimum 2400",
    ),
    "cec2022-f11": ("cec2022:CEC2022F11", "CEC 2022 F11, composition of 5 functions; optimum 2600"),
    "cec2022-f12": ("cec2022:CEC2022F12", "CEC 2022 F12, composition of 6 functions; optimum 2700"),
    "zdt1": ("zdt:ZDT1", "2 objectives, convex front"),
    "zdt2": ("zdt:ZDT2", "2 objectives, concave front"),
    "zdt3": ("zdt:ZDT3", "2 objectives, disconnected front"),
    "zdt4": ("zdt:ZDT4", "2 objectives, multimodal (21^9 local fronts)"),
    "zdt6": ("zdt:ZDT6", "2 objectives, non-uniform, biased density"),
    "dtlz1": (
        "dtlz:DTLZ1",
        "any number of objectives, linear front, multimodal (11^k local fronts)",
    ),
    "dtlz2": ("dtlz:DTLZ2", "any number of objectives, spherical front"),
    "dtlz3": (
        "dtlz:DTLZ3",
        "any number of objectives, spherical front, multimodal (3^k local fronts)",
    ),
    "dtlz4": (
        "dtlz:DTLZ4",
        "any number of objectives, spherical front, biased density (alpha=100)",
    ),
    "dtlz5": ("dtlz:DTLZ5", "any number of objectives, degenerate curve front"),
    "dtlz6": (
        "dtlz:DTLZ6",
        "any number of objectives, degenerate curve front, hard distance function",
    ),
    "dtlz7": ("dtlz:DTLZ7", "any number of objectives, disconnected front (2^(M-1) pieces)"),
    "wfg1": ("wfg:WFG1", "WFG toolkit, any number of objectives, convex/mixed front, biased"),
    "wfg2": (
        "wfg:WFG2",
        "WFG toolkit, any number of objectives, convex disconnected front, non-separable",
    ),
    "wfg3": (
        "wfg:WFG3",
        "WFG toolkit, any number of objectives, linear degenerate front, non-separable",
    ),
    "wfg4": ("wfg:WFG4", "WFG toolkit, any number of objectives, concave front, multimodal"),
    "wfg5": ("wfg:WFG5", "WFG toolkit, any number of objectives, concave front, deceptive"),
    "wfg6": ("wfg:WFG6", "WFG toolkit, any number of objectives, concave front, non-separable"),
    "wfg7": (
        "wfg:WFG7",
        "WFG toolkit, any number of objectives, concave front, parameter-dependent bias",
    ),
    "wfg8": (
        "wfg:WFG8",
        "WFG toolkit, any number of objectives, concave front, non-separable dependent bias",
    ),
    "wfg9": (
        "wfg:WFG9",
        "WFG toolkit, any number of objectives, concave front, deceptive, non-separable",
    ),
    "c1-dtlz1": (
        "cdtlz:C1DTLZ1",
        "constrained DTLZ1 (type 1: infeasible barrier, front unchanged)",
    ),
    "c2-dtlz2": (
        "cdtlz:C2DTLZ2",
        "constrained DTLZ2 (type 2: only disconnected caps of the front feasible)",
    ),
    "c3-dtlz4": ("cdtlz:C3DTLZ4", "constrained DTLZ4 (type 3: front on the constraint boundaries)"),
    "mw1": ("mw:MW1", "2 objectives, 1 constraint, linear front cut into pieces"),
    "mw2": (
        "mw:MW2",
        "2 objectives, 1 constraint, linear front, narrow feasible corridors, multimodal",
    ),
    "mw3": ("mw:MW3", "2 objectives, 2 constraints, linear front partly on a constraint boundary"),
    "bnh": ("classic:BNH", "Binh-Korn: 2 objectives, 2 constraints, 2 variables, convex front"),
    "srn": ("classic:SRN", "Srinivas-Deb: 2 objectives, 2 constraints, 2 variables"),
    "tnk": ("classic:TNK", "Tanaka: 2 objectives, 2 constraints, disconnected wavy front"),
    "osy": (
        "classic:OSY",
        "Osyczka-Kundu: 2 objectives, 6 constraints, 6 variables, five-segment front",
    ),
    "branin": ("bo_problems:Branin", "2-D, three global minima; optimum 0.397887"),
    "hartmann6": ("bo_problems:Hartmann6", "6-D, six local minima; optimum -3.32237"),
    "ackley": ("bo_problems:Ackley", "any dimension, multimodal with a deep funnel; optimum 0"),
    "levy": ("bo_problems:Levy", "any dimension, multimodal; optimum 0"),
    "rosenbrock": ("bo_problems:Rosenbrock", "any dimension >= 2, curved valley; optimum 0"),
    "gramacy": ("bo_problems:Gramacy", "2-D linear objective, 2 constraints; optimum 0.599788"),
    "constrained-hartmann6": (
        "bo_problems:ConstrainedHartmann6",
        "Hartmann6 with ||x||^2 <= 1; optimum -3.32237",
    ),
    "branin-currin": (
        "bo_problems:BraninCurrin",
        "2 objectives on [0, 1]^2, both minimized, ref point (18, 6)",
    ),
    "tsp": ("co.tsp:TSP", "TSP tour length over Permutation(n); uniform random or a TSPLIB file"),
    "cvrp": (
        "co.cvrp:CVRP",
        "CVRP over giant tours (optimal split); uniform random or a CVRPLIB file",
    ),
    "ocvrp": ("co.cvrp:OpenCVRP", "open CVRP (no return to the depot) over giant tours"),
    "knapsack": (
        "co.knapsack:Knapsack",
        "0/1 knapsack over Binary(n), 1 constraint; exact DP optimum",
    ),
    "mo-knapsack": (
        "co.knapsack:MOKnapsack",
        "multi-objective 0/1 knapsack, 1 constraint; exact Pareto front (Nemhauser-Ullmann DP)",
    ),
    "one-min-max": (
        "pseudo_boolean:OneMinMax",
        "OneMinMax over Binary(n): ones and zeros, maximized; n_obj=2k gives mOneMinMax",
    ),
    "lotz": (
        "pseudo_boolean:LeadingOnesTrailingZeros",
        "LeadingOnesTrailingZeros over Binary(n); n_obj=2k gives mLOTZ; exact front",
    ),
    "cocz": (
        "pseudo_boolean:CountingOnesCountingZeros",
        "CountingOnesCountingZeros over Binary(n); n_obj=2k gives mCOCZ; exact front",
    ),
    "one-jump-zero-jump": (
        "pseudo_boolean:OneJumpZeroJump",
        "OneJumpZeroJump over Binary(n): OneMinMax with jumps of k bits to its ends; exact front",
    ),
}

_ENVIRONMENTS = {
    "cartpole": (
        "cartpole:CartPole",
        "Gymnasium's CartPole-v1 (balance a pole, 2 actions), batched torch",
    ),
    "deep-sea-treasure": (
        "deep_sea_treasure:DeepSeaTreasure",
        "2-objective gridworld (treasure vs time), batched torch, known Pareto front",
    ),
    "deep-sea-treasure-concave": (
        "deep_sea_treasure:ConcaveDeepSeaTreasure",
        "Deep Sea Treasure with the concave treasure map (1 ... 124), known Pareto front",
    ),
    "resource-gathering": (
        "resource_gathering:ResourceGathering",
        "3-objective gridworld (enemy, gold, gem) with random kills, reference front",
    ),
    "fruit-tree": (
        "fruit_tree:FruitTree",
        "6-objective binary tree of depth 6 (depth=5 or 7 too), every fruit Pareto-optimal",
    ),
    "fruit-tree-7": (
        "fruit_tree:FruitTree7",
        "Fruit Tree of depth 7: 128 fruits, 6 objectives, known Pareto front",
    ),
    "four-room": (
        "four_room:FourRoom",
        "3-objective gridworld: collect three kinds of shapes, then reach the goal",
    ),
    "mo-mountaincar": (
        "mo_mountain_car:MOMountainCar",
        "Mountain Car with time, reverse and forward penalties (3 objectives), float64 dynamics",
    ),
    "tsp-construct": ("co.tsp:TSPEnv", "batched masked TSP tour construction (reward: -length)"),
    "cvrp-construct": ("co.cvrp:CVRPEnv", "batched masked CVRP route construction with capacities"),
    "ocvrp-construct": ("co.cvrp:OpenCVRPEnv", "batched masked open-CVRP route construction"),
    "knapsack-construct": (
        "co.knapsack:KnapsackEnv",
        "batched masked knapsack packing, one item a step (vector reward for several values)",
    ),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    for name, (target, summary) in _OBJECTIVES.items():
        registry.add("objective", name, f"polyopt_envs.{target}", summary=summary)
    for name, (target, summary) in _ENVIRONMENTS.items():
        registry.add("environment", name, f"polyopt_envs.{target}", summary=summary)
