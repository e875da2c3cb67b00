"""Knapsack: the exact DP and the Pareto DP against brute force, evaluation, and the packing environment."""

from __future__ import annotations

import itertools

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt.pareto import non_dominated_mask
from polyopt_envs.co import Knapsack, KnapsackEnv, MOKnapsack, knapsack_dp, uniform_knapsack


def _all_packings(n: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product([0.0, 1.0], repeat=n)), dtype=torch.float64)


def test_dp_matches_brute_force_on_a_batch_of_instances() -> None:
    inst = uniform_knapsack(6, 10, generator=torch.Generator().manual_seed(0), max_value=30)
    best, x = knapsack_dp(inst["weights"], inst["values"][:, 0], inst["capacity"])
    packings = _all_packings(10)
    for row in range(6):
        weight = packings @ inst["weights"][row]
        value = packings @ inst["values"][row, 0]
        expected = value[weight <= inst["capacity"][row]].max()
        assert float(best[row]) == float(expected)
        assert float(x[row] @ inst["values"][row, 0]) == float(expected)  # the packing achieves it
        assert float(x[row] @ inst["weights"][row]) <= float(inst["capacity"][row])


def test_dp_by_hand_and_bad_weights() -> None:
    best, x = knapsack_dp(
        torch.tensor([[3.0, 4.0, 5.0]]), torch.tensor([[4.0, 5.0, 6.0]]), torch.tensor([7.0])
    )
    assert float(best) == 9.0 and x.tolist() == [[1.0, 1.0, 0.0]]
    with pytest.raises(ConfigError, match="non-negative integer"):
        knapsack_dp(torch.tensor([[-1.0]]), torch.tensor([[1.0]]), torch.tensor([3.0]))
    with pytest.raises(ConfigError, match="non-negative integers"):
        Knapsack(weights=torch.tensor([1.5, 2.0]), values=torch.tensor([1.0, 1.0]), capacity=2)


def test_objective_values_constraint_and_optimum() -> None:
    problem = polyopt.make("objective", "knapsack", n=12, seed=1)
    packings = _all_packings(12)
    ev = polyopt.evaluate(problem, packings)
    feasible = ev.feasible()
    # minimization form: the best feasible value, negated, is the DP optimum
    assert float(-ev.f[feasible].min()) == problem.optimum
    raw = problem.evaluate(packings[:3])
    assert raw.f.shape == (3, 1) and raw.g.shape == (3, 1)
    assert problem.directions == ("maximize",)


@pytest.mark.parametrize("n_obj", [2, 3])
def test_pareto_front_matches_brute_force(n_obj: int) -> None:
    problem = MOKnapsack(n=11, n_obj=n_obj, seed=n_obj)
    packings = _all_packings(11)
    ev = problem.evaluate(packings)
    values = ev.f[ev.g[:, 0] <= 0]
    brute = torch.unique(values[non_dominated_mask(-values)], dim=0)
    front = problem.pareto_front()
    assert front.shape == brute.shape
    assert torch.equal(torch.unique(front, dim=0), brute)
    assert problem.ref_point == (0.0,) * n_obj and problem.optimum is None


def test_env_packs_what_fits_and_returns_the_packed_value() -> None:
    weights = torch.tensor([[4.0, 3.0, 2.0, 5.0]])
    values = torch.tensor([[[10.0, 7.0, 3.0, 9.0], [1.0, 2.0, 3.0, 4.0]]])
    env = KnapsackEnv(
        num_envs=1,
        instances={"weights": weights, "values": values, "capacity": torch.tensor([7.0])},
        autoreset=False,
    )
    assert env.reward_dim == 2
    env.reset()
    assert env.action_mask().tolist() == [[True, True, True, True, True]]
    r1 = env.step(torch.tensor([0])).reward  # load 4 of 7: only items 1 and 2 fit now
    assert env.action_mask().tolist() == [[False, True, True, False, True]]
    r2 = env.step(torch.tensor([1]))  # load 7: nothing fits, the episode ends
    assert r2.terminated.tolist() == [True]
    assert (r1 + r2.reward).tolist() == [[17.0, 3.0]]
    assert float(env.step(torch.tensor([2])).reward.abs().sum()) == 0.0


def test_stop_action_ends_an_episode() -> None:
    env = polyopt.make("environment", "knapsack-construct", num_envs=2, n=5, autoreset=False)
    env.reset(seed=0)
    step = env.step(torch.tensor([5, 0]))
    assert step.terminated.tolist() == [True, False]
    assert float(step.reward[0].sum()) == 0.0 and float(step.reward[1].sum()) > 0.0
