"""Ant colonies: the pheromone update by hand, MAX-MIN bounds, optima of small instances, the batched
solver, and the optimizers on TSP and CVRP objectives."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import TSP, read_tsplib, tour_length
from polyopt_plugins.co.aco import AntColony, solve_tsp

DATA = Path(__file__).parents[3] / "data" / "tsplib"


def _optimum(tsp: TSP) -> float:
    perms = torch.tensor([(0, *p) for p in itertools.permutations(range(1, tsp.n))])
    return float(tour_length(perms, tsp.distances).min())


def test_ant_system_update_by_hand() -> None:
    dist = torch.tensor([[[0.0, 1.0, 2.0], [1.0, 0.0, 1.5], [2.0, 1.5, 0.0]]], dtype=torch.float64)
    colony = AntColony(dist, variant="as", rho=0.5)
    colony.tau.fill_(1.0)
    tours = torch.tensor([[[0, 1, 2], [0, 2, 1]]])  # both tours use every edge of a triangle
    colony.update(tours, tour_length(tours[0], dist[0]).unsqueeze(0))
    # 0.5 * 1 + 1/4.5 + 1/4.5 on every edge, both directions
    expected = 0.5 + 2 / 4.5
    off = ~torch.eye(3, dtype=torch.bool)
    assert torch.allclose(colony.tau[0][off], torch.full((6,), expected, dtype=torch.float64))


def test_max_min_trails_stay_within_their_bounds() -> None:
    tsp = TSP(n=12, seed=0)
    colony = AntColony(tsp.distances.unsqueeze(0), variant="mmas", rho=0.2)
    gen = torch.Generator().manual_seed(0)
    colony.init_trails(tour_length(colony.greedy(), tsp.distances.unsqueeze(0)), 8)
    for _ in range(10):
        tours = colony.construct(8, gen)
        colony.update(tours, tour_length(tours[0], tsp.distances).unsqueeze(0))
    tau_max = 1 / (0.2 * colony.best_lengths[0])
    off = ~torch.eye(12, dtype=torch.bool)
    assert float(colony.tau[0][off].max()) <= float(tau_max) * (1 + 1e-12)
    assert float(colony.tau[0][off].min()) >= float(colony._tau_min(tau_max)) * (1 - 1e-12)
    assert bool((colony.construct(8, gen)[0].sort(dim=1).values == torch.arange(12)).all())


@pytest.mark.parametrize("variant", ["as", "mmas"])
def test_batched_solver_finds_the_optima_of_small_instances(variant: str) -> None:
    problems = [TSP(n=9, seed=s) for s in range(3)]
    dist = torch.stack([p.distances for p in problems])
    tours, lengths = solve_tsp(
        dist, generator=torch.Generator().manual_seed(0), iterations=15, variant=variant, n_ants=8
    )
    for p, tour, length in zip(problems, tours, lengths):
        assert float(length) == pytest.approx(_optimum(p))
        assert float(tour_length(tour.unsqueeze(0), p.distances)) == pytest.approx(float(length))


def test_batched_solver_reaches_eil51s_optimum() -> None:
    dist = read_tsplib(DATA / "eil51.tsp").distances().unsqueeze(0)
    _, lengths = solve_tsp(dist, generator=torch.Generator().manual_seed(0), iterations=40)
    assert float(lengths[0]) == 426.0


def test_solver_options_are_checked() -> None:
    with pytest.raises(ConfigError, match="iterations= or seconds="):
        solve_tsp(torch.rand(1, 5, 5), generator=torch.Generator())
    with pytest.raises(ConfigError, match="variant"):
        AntColony(torch.rand(1, 5, 5), variant="acs")


@pytest.mark.parametrize("name", ["mmas", "ant-system"])
def test_optimizers_solve_a_small_tsp(name: str) -> None:
    tsp = TSP(n=9, seed=5)
    result = polyopt.optimize(name, tsp, budget=polyopt.Budget(steps=10), seed=0)
    assert result.f_best == pytest.approx(_optimum(tsp))


def test_mmas_on_cvrp_beats_random_giant_tours() -> None:
    problem = polyopt.make("objective", "cvrp", n=20, seed=0)
    result = polyopt.optimize("mmas", problem, budget=polyopt.Budget(steps=5), seed=0)
    random = polyopt.evaluate(
        problem, problem.space.sample(64, generator=torch.Generator().manual_seed(0))
    )
    assert result.f_best < 0.8 * float(random.f.min())


def test_an_objective_without_distances_is_refused() -> None:
    plain = polyopt.FunctionObjective(lambda x: x[:, :1], polyopt.Permutation(5))
    with pytest.raises(polyopt.IncompatibleProblemError, match="distances"):
        polyopt.make("optimizer", "mmas", plain)


def test_knapsack_colony_packs_feasible_maximal_packings_and_reaches_the_dp_optimum() -> None:
    from polyopt_envs.co import Knapsack
    from polyopt_plugins.co.aco_knapsack import KnapsackColony

    problem = Knapsack(n=30, seed=3)
    colony = KnapsackColony(
        problem.weights[None],
        problem.values / problem.weights[None],
        torch.tensor([problem.capacity]),
    )
    packed = colony.construct(16, torch.Generator().manual_seed(0))[0].double()  # 16 x 30
    load = packed @ problem.weights
    assert bool((load <= problem.capacity).all())
    left = problem.capacity - load
    assert not bool(((problem.weights[None] <= left[:, None]) & (packed == 0)).any())  # maximal
    result = polyopt.optimize("mmas-knapsack", problem, budget=polyopt.Budget(steps=40), seed=0)
    assert result.feasible and result.f_best == problem.optimum
