"""Pseudo-Boolean benchmarks: values by hand, and each known front equals the non-dominated set of all 2^n
strings (brute force at n = 8)."""

from __future__ import annotations

import itertools

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt.pareto import non_dominated_mask
from polyopt_envs.pseudo_boolean import (
    CountingOnesCountingZeros,
    LeadingOnesTrailingZeros,
    OneJumpZeroJump,
    OneMinMax,
)

ALL_8 = torch.tensor(list(itertools.product([0.0, 1.0], repeat=8)), dtype=torch.float64)


def _bits(s: str) -> torch.Tensor:
    return torch.tensor([[float(c) for c in s]], dtype=torch.float64)


def test_values_by_hand() -> None:
    assert OneMinMax(6)(_bits("110100")).f.tolist() == [[3.0, 3.0]]
    assert LeadingOnesTrailingZeros(6)(_bits("110100")).f.tolist() == [[2.0, 2.0]]
    assert CountingOnesCountingZeros(6)(_bits("110100")).f.tolist() == [[3.0, 4.0]]
    ojzj = OneJumpZeroJump(6, k=2)
    assert ojzj(_bits("111110")).f.tolist() == [[1.0, 3.0]]  # 5 ones: in the gap before 1^n
    assert ojzj(_bits("111111")).f.tolist() == [[8.0, 2.0]]
    assert ojzj(_bits("111100")).f.tolist() == [[6.0, 4.0]]


@pytest.mark.parametrize(
    "problem",
    [
        OneMinMax(8),
        LeadingOnesTrailingZeros(8),
        CountingOnesCountingZeros(8),
        OneJumpZeroJump(8, 3),
        OneMinMax(8, n_obj=4),
        LeadingOnesTrailingZeros(8, n_obj=4),
        CountingOnesCountingZeros(8, n_obj=4),
    ],
    ids=lambda p: f"{p.name}-{p.n_objectives}",
)
def test_the_known_front_is_the_brute_force_front(problem: polyopt.Objective) -> None:
    f = problem(ALL_8).f
    front = f[non_dominated_mask(-f)].unique(dim=0)
    known = problem.pareto_front(0)
    assert known is not None
    assert torch.equal(front, known.unique(dim=0))
    ref = torch.tensor(problem.ref_point, dtype=torch.float64)
    assert bool((known > ref).all())


def test_many_objective_versions_score_each_block() -> None:
    x = _bits("11010011")  # blocks 1101 and 0011
    assert LeadingOnesTrailingZeros(8, n_obj=4)(x).f.tolist() == [[2.0, 0.0, 0.0, 0.0]]
    assert OneMinMax(8, n_obj=4)(x).f.tolist() == [[3.0, 1.0, 2.0, 2.0]]
    assert LeadingOnesTrailingZeros(12, n_obj=6).pareto_front(0).shape == (
        125,
        6,
    )  # 5 per block, cubed


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ConfigError, match="even block length"):
        CountingOnesCountingZeros(7)
    with pytest.raises(ConfigError, match="n_obj=3"):
        OneMinMax(8, n_obj=3)
    with pytest.raises(ConfigError, match="n_obj=6 with n=8"):
        LeadingOnesTrailingZeros(8, n_obj=6)
    with pytest.raises(ConfigError, match="k=5 with n=8"):
        OneJumpZeroJump(8, k=5)
    with pytest.raises(ConfigError, match="n=1"):
        OneMinMax(1)


def test_nsga2_covers_most_of_the_one_min_max_front() -> None:
    problem = polyopt.make("objective", "one-min-max", n=10)
    result = polyopt.optimize("nsga2", problem, budget=2_000, seed=0, pop_size=24)
    assert isinstance(result, polyopt.Result)
    assert result.f.unique(dim=0).shape[0] >= 9  # of the 11 front points
