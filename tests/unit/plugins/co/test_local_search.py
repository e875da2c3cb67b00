"""Batched local search: results are local optima of their neighbourhoods (checked move by move against
brute force on small instances), never worse, and problems without the structure are refused."""

from __future__ import annotations

import itertools

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import CVRP, TSP, Knapsack, OpenCVRP, sequence_cost, tour_length
from polyopt_plugins.co.local_search import (
    GreedyRepair,
    RelocateSwap,
    or_opt,
    relocate_swap,
    two_opt,
    two_opt_or_opt,
)


def _tours(problem: TSP, n: int, seed: int = 0) -> torch.Tensor:
    return problem.space.sample(n, generator=torch.Generator().manual_seed(seed)).long()


def test_two_opt_reaches_a_two_opt_local_optimum() -> None:
    tsp = TSP(n=9, seed=3)
    for row in two_opt(_tours(tsp, 20), tsp.distances).tolist():
        assert sorted(row) == list(range(9))
        length = float(tour_length(torch.tensor([row]), tsp.distances))
        for i, j in itertools.combinations(range(9), 2):
            moved = row[:i] + row[i : j + 1][::-1] + row[j + 1 :]
            assert float(tour_length(torch.tensor([moved]), tsp.distances)) >= length - 1e-9


def test_or_opt_leaves_no_improving_segment_move() -> None:
    tsp = TSP(n=9, seed=4)
    for row in or_opt(_tours(tsp, 20), tsp.distances).tolist():
        length = float(tour_length(torch.tensor([row]), tsp.distances))
        for seg_len in (1, 2, 3):
            for i in range(9 - seg_len + 1):
                seg, rest = row[i : i + seg_len], row[:i] + row[i + seg_len :]
                for j in range(len(rest) + 1):
                    for piece in (seg, seg[::-1]):
                        moved = rest[:j] + piece + rest[j:]
                        cost = float(tour_length(torch.tensor([moved]), tsp.distances))
                        assert cost >= length - 1e-9, (row, moved)


def test_tour_kernels_never_lengthen_and_take_one_instance_per_tour() -> None:
    a, b = TSP(n=30, seed=0), TSP(n=30, seed=1)
    tours = torch.cat([_tours(a, 4), _tours(b, 4, seed=1)])
    dist = torch.cat([a.distances.expand(4, -1, -1), b.distances.expand(4, -1, -1)])
    before = tour_length(tours, dist)
    for kernel in (two_opt, or_opt, two_opt_or_opt):
        after = tour_length(kernel(tours, dist), dist)
        assert bool((after <= before + 1e-9).all()) and bool((after < before).any())
    # one instance per row gives the same tours as each instance alone
    joint = two_opt(tours, dist)
    assert torch.equal(joint[:4], two_opt(tours[:4], a.distances))


def _feasible_neighbours(seq: list[int], demands: torch.Tensor, cap: float) -> list[list[int]]:
    """Every relocate and swap of customers in a depot-separated sequence that keeps routes within
    capacity."""
    out = []
    positions = [k for k, v in enumerate(seq) if v != 0]
    for i in positions:
        rest = seq[:i] + seq[i + 1 :]
        out += [[*rest[: j + 1], seq[i], *rest[j + 1 :]] for j in range(len(rest) - 1)]
    for i, j in itertools.combinations(positions, 2):
        moved = list(seq)
        moved[i], moved[j] = moved[j], moved[i]
        out.append(moved)
    ok = []
    for cand in out:
        loads, load = [], 0.0
        for v in cand[1:]:
            if v == 0:
                loads.append(load)
                load = 0.0
            else:
                load += float(demands[v])
        if max(loads) <= cap:
            ok.append(cand)
    return ok


@pytest.mark.parametrize("problem_cls", [CVRP, OpenCVRP])
def test_relocate_swap_reaches_a_local_optimum_within_capacity(problem_cls: type) -> None:
    problem = problem_cls(n=6, seed=2, capacity=12.0)
    x = problem.space.sample(6, generator=torch.Generator().manual_seed(0))
    seq = problem.sequences(x)
    improved = relocate_swap(seq, problem.distances, problem.demands, problem.capacity)
    assert bool(
        (
            sequence_cost(improved, problem.distances)
            <= sequence_cost(seq, problem.distances) + 1e-12
        ).all()
    )
    for row in improved.tolist():
        cost = float(sequence_cost(torch.tensor([row]), problem.distances))
        for cand in _feasible_neighbours(row, problem.demands, problem.capacity):
            assert float(sequence_cost(torch.tensor([cand]), problem.distances)) >= cost - 1e-9


def test_relocate_swap_factory_improves_giant_tours() -> None:
    problem = CVRP(n=25, seed=0)
    x = problem.space.sample(8, generator=torch.Generator().manual_seed(1))
    y = RelocateSwap(problem)(x)
    assert bool(problem.space.contains(y).all())
    before, after = problem.evaluate(x).f, problem.evaluate(y).f
    assert bool((after <= before + 1e-9).all()) and float(after.mean()) < 0.8 * float(before.mean())


def test_greedy_repair_makes_packings_feasible_and_fills_them() -> None:
    problem = Knapsack(n=20, seed=1)
    x = torch.ones(3, 20)  # everything packed: infeasible
    y = GreedyRepair(problem)(x)
    ev = problem.evaluate(y)
    assert bool((ev.g <= 0).all())
    # filled: no unpacked item still fits
    left = problem.capacity - y.double() @ problem.weights
    unpacked_fits = (problem.weights.unsqueeze(0) <= left.unsqueeze(1)) & (y == 0)
    assert not bool(unpacked_fits.any())


def test_factories_refuse_problems_without_their_structure() -> None:
    with pytest.raises(ConfigError, match="needs a tsp problem"):
        polyopt.make("local_search", "two-opt", CVRP(n=5))
    with pytest.raises(ConfigError, match="needs a cvrp problem"):
        polyopt.make("local_search", "relocate-swap", TSP(n=5))
    with pytest.raises(ConfigError, match="max_iters"):
        polyopt.make("local_search", "two-opt", TSP(n=5), max_iters=0)
