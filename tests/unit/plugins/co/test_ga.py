"""The permutation/binary GA: optima of small TSP and knapsack instances, the MOEA family's operators by name,
and configuration errors."""

from __future__ import annotations

import itertools

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import TSP, Knapsack, tour_length
from polyopt_plugins.co.knapsack import knapsack_greedy


def test_memetic_ga_finds_a_small_tsps_optimum() -> None:
    tsp = TSP(n=9, seed=1)
    perms = torch.tensor([(0, *p) for p in itertools.permutations(range(1, 9))])
    optimum = float(tour_length(perms, tsp.distances).min())
    result = polyopt.optimize("ga", tsp, budget=polyopt.Budget(steps=6), seed=0, pop_size=20)
    assert result.f_best == pytest.approx(optimum)


@pytest.mark.parametrize(
    ("crossover", "mutation"), [("pmx", "swap-mutation"), ("ox", "inversion-mutation")]
)
def test_ga_without_local_search_improves_on_random_tours(crossover: str, mutation: str) -> None:
    tsp = TSP(n=20, seed=0)
    random = polyopt.evaluate(
        tsp, tsp.space.sample(1000, generator=torch.Generator().manual_seed(0))
    )
    result = polyopt.optimize(
        "ga",
        tsp,
        budget=polyopt.Budget(evaluations=3000),
        seed=0,
        pop_size=50,
        crossover=crossover,
        mutation=mutation,
        local_search=None,
    )
    assert result.f_best < 0.8 * float(random.f.min())


def test_ga_reaches_the_knapsack_dp_optimum() -> None:
    problem = Knapsack(n=30, seed=2)
    result = polyopt.optimize("ga", problem, budget=polyopt.Budget(steps=30), seed=0, pop_size=40)
    assert result.feasible and result.f_best == problem.optimum


def test_ga_without_repair_keeps_feasible_packings_first() -> None:
    problem = Knapsack(n=30, seed=2)
    result = polyopt.optimize(
        "ga", problem, budget=polyopt.Budget(steps=20), seed=0, pop_size=40, local_search=None
    )
    assert result.feasible and result.f_best >= 0.9 * problem.optimum


def test_operator_in_the_wrong_slot_and_stray_options_are_config_errors() -> None:
    tsp = TSP(n=6)
    with pytest.raises(ConfigError, match="is a mutation, not a crossover"):
        polyopt.make("optimizer", "ga", tsp, crossover="swap-mutation")
    with pytest.raises(ConfigError, match="local_search_options"):
        polyopt.make(
            "optimizer", "ga", tsp, local_search=None, local_search_options={"max_iters": 3}
        )
    with pytest.raises(ConfigError, match="pop_size"):
        polyopt.make("optimizer", "ga", tsp, pop_size=1)


def test_greedy_by_hand_and_below_the_dp() -> None:
    value, x = knapsack_greedy(
        torch.tensor([[5.0, 4.0, 3.0]]), torch.tensor([[10.0, 7.0, 6.0]]), torch.tensor([7.0])
    )
    # ratios 2, 1.75, 2: items 0 (w5) then 2 does not fit (5+3>7), 1 does not fit -> value 10
    assert x.tolist() == [[1.0, 0.0, 0.0]] and float(value) == 10.0
    problem = Knapsack(n=40, seed=0)
    greedy, _ = knapsack_greedy(
        problem.weights[None], problem.values, torch.tensor([problem.capacity])
    )
    assert float(greedy) <= problem.optimum
