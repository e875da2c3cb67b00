"""Behaviour of the hill climber and the bowl that a user relies on, beyond the conformance kit."""

from __future__ import annotations

import pytest
import torch
from polyopt_hello.bowl import Bowl
from polyopt_hello.hill_climb import HillClimb

import polyopt
from polyopt.errors import ConfigError, IncompatibleProblemError


def test_the_plugin_is_registered() -> None:
    reg = polyopt.registry()
    assert reg.entry("optimizer", "hello.hill-climb").distribution.startswith("polyopt-hello")
    assert reg.get("objective", "hello.bowl") is Bowl


def test_converges_on_the_bowl() -> None:
    result = polyopt.optimize("hello.hill-climb", Bowl(dim=2), budget=600, seed=0, offspring=6)
    assert result.f_best < 1e-3
    assert torch.allclose(
        result.x_best, torch.full((2,), 0.5, dtype=result.x_best.dtype), atol=0.05
    )


def test_beats_random_search_at_the_same_budget() -> None:
    bowl = Bowl(dim=5)
    climb = [
        polyopt.optimize("hello.hill-climb", bowl, budget=400, seed=s).f_best for s in range(3)
    ]
    rand = [polyopt.optimize("random-search", bowl, budget=400, seed=s).f_best for s in range(3)]
    assert max(climb) < min(rand)


def test_integer_spaces_get_integer_points() -> None:
    grid = polyopt.objective(polyopt.Integer(-10, 10, dim=3))(lambda x: ((x - 3) ** 2).sum(-1))
    result = polyopt.optimize(HillClimb, grid, budget=300, seed=1)
    assert torch.equal(result.x_best, result.x_best.round())
    assert result.f_best == 0.0


def test_bad_config_and_problems_are_refused() -> None:
    with pytest.raises(ConfigError, match="offspring=0"):
        HillClimb(Bowl(), offspring=0)
    with pytest.raises(IncompatibleProblemError, match="objectives"):
        HillClimb(polyopt.make("objective", "zdt1", n_var=3))
    with pytest.raises(ConfigError, match="dim=0"):
        Bowl(dim=0)
