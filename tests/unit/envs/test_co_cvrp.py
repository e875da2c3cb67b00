"""CVRP and open CVRP: the optimal split against brute force, hand-computed costs, routes, and the
construction environment's capacity masks and returns."""

from __future__ import annotations

import itertools

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import (
    CVRP,
    CVRPEnv,
    OpenCVRP,
    arc_costs,
    default_capacity,
    parse_tsplib,
    sequence_cost,
    split,
    split_sequences,
)


def _brute_split(order: list[int], costs: torch.Tensor, demands: torch.Tensor, cap: float) -> float:
    """Every way to cut ``order`` into consecutive routes; the cheapest that fits."""
    n = len(order)
    best = float("inf")
    for cuts in itertools.product([False, True], repeat=n - 1):
        routes, route = [], [order[0]]
        for node, cut in zip(order[1:], cuts):
            if cut:
                routes.append(route)
                route = []
            route.append(node)
        routes.append(route)
        if any(float(demands[r].sum()) > cap for r in routes):
            continue
        total = sum(
            float(
                costs[0, r[0]]
                + sum(costs[a, b] for a, b in itertools.pairwise(r))
                + costs[r[-1], 0]
            )
            for r in routes
        )
        best = min(best, total)
    return best


@pytest.mark.parametrize("open_routes", [False, True])
def test_split_is_the_best_partition_of_the_order(open_routes: bool) -> None:
    problem = CVRP(n=7, seed=1, capacity=12.0, open_routes=open_routes)
    perms = problem.space.sample(12, generator=torch.Generator().manual_seed(0))
    cost, starts = problem.split(perms)
    for row in range(12):
        order = [int(v) + 1 for v in perms[row]]
        expected = _brute_split(order, problem.distances, problem.demands, problem.capacity)
        assert float(cost[row]) == pytest.approx(expected, rel=1e-12)
    seq = split_sequences(perms, starts)
    assert torch.allclose(sequence_cost(seq, problem.distances), cost)


def test_costs_by_hand() -> None:
    # depot at the origin, customers at (1, 0) and (0, 1) with demand 2 each
    locs = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    demands = torch.tensor([0.0, 2.0, 2.0])
    one_truck = CVRP(locs=locs, demands=demands, capacity=4.0)
    two_trucks = CVRP(locs=locs, demands=demands, capacity=3.0)
    open_two = OpenCVRP(locs=locs, demands=demands, capacity=3.0)
    x = torch.tensor([[0.0, 1.0]])
    assert float(one_truck.evaluate(x).f) == pytest.approx(2.0 + 2**0.5)  # 0 -> 1 -> 2 -> 0
    assert float(two_trucks.evaluate(x).f) == pytest.approx(4.0)  # 0 -> 1 -> 0 -> 2 -> 0
    assert float(open_two.evaluate(x).f) == pytest.approx(2.0)  # 0 -> 1 | 0 -> 2, no returns
    assert two_trucks.routes(x) == [[[1], [2]]]
    assert one_truck.routes(x) == [[[1, 2]]]


def test_routes_serve_every_customer_once_within_capacity() -> None:
    problem = polyopt.make("objective", "cvrp", n=30, seed=2)
    x = problem.space.sample(5, generator=torch.Generator().manual_seed(3))
    for routes in problem.routes(x):
        served = sorted(c for r in routes for c in r)
        assert served == list(range(1, 31))
        assert all(float(problem.demands[r].sum()) <= problem.capacity for r in routes)


def test_open_routes_cost_less_than_closed_ones() -> None:
    closed, opened = CVRP(n=15, seed=0), OpenCVRP(n=15, seed=0)
    x = closed.space.sample(20, generator=torch.Generator().manual_seed(0))
    assert bool((opened.evaluate(x).f < closed.evaluate(x).f).all())
    assert float(opened.distances[3, 0]) == 0.0 and float(opened.distances[0, 3]) > 0


def test_standard_capacities_and_bad_instances() -> None:
    assert [default_capacity(n) for n in (10, 20, 50, 100)] == [20.0, 30.0, 40.0, 50.0]
    assert default_capacity(5) == 20.0 and default_capacity(5000) == 150.0
    assert 40.0 < default_capacity(55) < 43.0
    problem = CVRP(n=50, seed=0)
    assert problem.capacity == 40.0
    assert bool((problem.demands[1:] >= 1).all() & (problem.demands[1:] <= 9).all())
    with pytest.raises(ConfigError, match="demand 5.0 > capacity 4.0"):
        CVRP(locs=torch.rand(3, 2), demands=torch.tensor([0.0, 5.0, 1.0]), capacity=4.0)
    with pytest.raises(ConfigError, match="expected 0 for the depot"):
        CVRP(locs=torch.rand(3, 2), demands=torch.tensor([1.0, 5.0, 1.0]), capacity=9.0)


def test_a_cvrplib_file_puts_its_depot_first(tmp_path) -> None:
    text = (
        "NAME : tiny\nTYPE : CVRP\nDIMENSION : 4\nEDGE_WEIGHT_TYPE : EUC_2D\nCAPACITY : 5\n"
        "NODE_COORD_SECTION\n1 3 0\n2 0 0\n3 0 4\n4 6 0\n"
        "DEMAND_SECTION\n1 2\n2 0\n3 3\n4 2\nDEPOT_SECTION\n2\n-1\nEOF\n"
    )
    inst = parse_tsplib(text)
    assert inst.depot == 1 and inst.capacity == 5.0
    path = tmp_path / "tiny.vrp"
    path.write_text(text)
    problem = CVRP(vrplib=path)
    assert problem.locs[0].tolist() == [0.0, 0.0] and problem.demands.tolist() == [0, 2, 3, 2]
    # 0 -> (3,0) -> (6,0) -> 0 = 3 + 3 + 6 and 0 -> (0,4) -> 0 = 8 (demands 4 and 3 of capacity 5)
    assert float(problem.evaluate(torch.tensor([[0.0, 2.0, 1.0]])).f) == 20.0


def test_env_episode_following_the_split_returns_minus_its_cost() -> None:
    problem = CVRP(n=10, seed=4)
    x = problem.space.sample(3, generator=torch.Generator().manual_seed(1))
    seq = problem.sequences(x)
    env = CVRPEnv(
        num_envs=3,
        instances={
            "locs": problem.locs.expand(3, -1, -1),
            "demands": problem.demands.expand(3, -1),
            "capacity": torch.full((3,), problem.capacity),
        },
        autoreset=False,
    )
    env.reset()
    total = torch.zeros(3)
    for k in range(1, seq.shape[1]):
        step = env.step(seq[:, k])
        total += step.reward[:, 0]
        assert not step.info["repaired"].any()
    assert bool(step.terminated.all())
    assert torch.allclose(-total, problem.evaluate(x).f[:, 0].float(), atol=1e-4)


def test_env_masks_capacity_and_the_depot() -> None:
    env = CVRPEnv(num_envs=1, n=4, autoreset=False)
    env.reset(seed=0)
    env.instances["demands"] = torch.tensor([[0.0, 5.0, 3.0, 4.0, 1.0]], dtype=torch.float64)
    env.instances["capacity"] = torch.tensor([8.0], dtype=torch.float64)
    assert env.action_mask().tolist() == [[False, True, True, True, True]]  # no depot-to-depot
    env.step(torch.tensor([1]))  # load 5 of 8
    assert env.action_mask().tolist() == [[True, False, True, False, True]]  # 4 no longer fits
    env.step(torch.tensor([3]))  # does not fit: repaired to the next allowed action (4)
    assert env.current.tolist() == [4] and float(env.used) == 6.0
    for action in (0, 3, 0, 2, 0):
        step = env.step(torch.tensor([action]))
    assert step.terminated.tolist() == [True]


def test_open_env_returns_to_the_depot_for_free() -> None:
    env = polyopt.make("environment", "ocvrp-construct", num_envs=1, n=3, autoreset=False)
    env.reset(seed=0)
    env.step(torch.tensor([1]))
    assert float(env.step(torch.tensor([0])).reward) == 0.0
    assert float(arc_costs(torch.ones(1, 3, 3), True)[0, 2, 0]) == 0.0


def test_split_accepts_batched_instances() -> None:
    a, b = CVRP(n=6, seed=0), CVRP(n=6, seed=1)
    x = torch.stack([torch.arange(6.0), torch.arange(6.0).flip(0)]).double()
    cost, _ = split(
        x,
        torch.stack([a.distances, b.distances]),
        torch.stack([a.demands, b.demands]),
        torch.tensor([a.capacity, b.capacity], dtype=torch.float64),
    )
    assert float(cost[0]) == float(a.evaluate(x[:1]).f) and float(cost[1]) == float(
        b.evaluate(x[1:]).f
    )
