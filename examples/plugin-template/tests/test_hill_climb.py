"""Behaviour of the plugin's pieces that a user relies on, beyond the conformance kit."""

from __future__ import annotations

import pytest
import torch
from polyopt_hello.bowl import Bowl
from polyopt_hello.hill_climb import HillClimb

import polyopt
from polyopt.errors import ConfigError, IncompatibleProblemError


def test_the_plugin_is_registered_under_its_prefix() -> None:
    reg = polyopt.registry()
    for kind, name in [
        ("optimizer", "hello.hill-climb"),
        ("objective", "hello.bowl"),
        ("operator", "hello.gauss"),
        ("advantage", "hello.centered"),
        ("acquisition", "hello.mean"),
    ]:
        assert reg.entry(kind, name).distribution.startswith("polyopt-hello")
    assert reg.get("objective", "hello.bowl") is Bowl


def test_the_hill_climber_converges_on_the_bowl() -> None:
    result = polyopt.optimize("hello.hill-climb", Bowl(dim=2), budget=600, seed=0, batch_size=6)
    assert result.optimizer == "hello.hill-climb"
    assert result.f_best < 1e-3
    assert torch.allclose(
        result.x_best, torch.full((2,), 0.5, dtype=result.x_best.dtype), atol=0.05
    )


def test_the_hill_climber_beats_random_search_at_the_same_budget() -> None:
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
    with pytest.raises(ConfigError, match="batch_size"):
        HillClimb(Bowl(), batch_size="many")
    with pytest.raises(IncompatibleProblemError, match="objective"):
        HillClimb(polyopt.make("objective", "zdt1", n_var=3))
    with pytest.raises(ConfigError, match="dim=0"):
        Bowl(dim=0)


def test_the_gauss_mutation_drives_nsga2_with_its_options() -> None:
    zdt1 = polyopt.make("objective", "zdt1", n_var=6)
    result = polyopt.optimize(
        "nsga2",
        zdt1,
        budget=1_000,
        seed=0,
        pop_size=20,
        mutation="hello.gauss",
        mutation_options={"sigma": 0.05},
    )
    assert result.hypervolume([1.1, 1.1]) > 0.8  # the true front's is 0.87


def test_the_centered_advantage_trains_grpo_with_its_options() -> None:
    task = polyopt.make("environment", "text-addition", n_digits=1)
    result = polyopt.optimize(
        "grpo",
        task,
        budget=polyopt.Budget(steps=2),
        seed=0,
        n_layer=1,
        d_model=32,
        n_head=2,
        prompts_per_step=2,
        completions_per_prompt=2,
        advantage="hello.centered",
        advantage_options={"scale": 2.0},
    )
    assert result.n_steps == 2 and result.returns.shape == (1, 1)


def test_the_mean_acquisition_drives_ego() -> None:
    result = polyopt.optimize(
        "ego",
        Bowl(dim=2),
        budget=12,
        seed=0,
        acquisition="hello.mean",
        n_initial=6,
        num_restarts=2,
        raw_samples=64,
    )
    assert result.f_best < 1.0
