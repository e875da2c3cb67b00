"""CONFIG: declares an infeasible problem infeasible, and finds the constrained optimum of a feasible one."""

from __future__ import annotations

import pytest
import torch
from bo_helpers import SMALL, run_steps

import polyopt
from polyopt_plugins.bo.config import CONFIG


def test_declares_a_problem_whose_constraint_can_never_hold_infeasible() -> None:
    @polyopt.objective(bounds=([-1.0], [1.0]), n_constraints=1, name="never-feasible")
    def never(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x[:, 0] ** 2, 1.0 + x[:, :1] ** 2  # g >= 1 > 0 everywhere

    opt = CONFIG(never, seed=0, n_initial=6, **SMALL)
    run_steps(opt, 10)
    result = opt.result()
    assert result.infeasible_declared
    assert not result.feasible


def test_finds_the_constrained_optimum_and_declares_nothing() -> None:
    # minimize (x0 - 0.8)^2 + (x1 - 0.8)^2 subject to x0 + x1 <= 1: optimum (0.5, 0.5), value 0.18
    @polyopt.objective(bounds=([0.0, 0.0], [1.0, 1.0]), n_constraints=1, name="disk")
    def disk(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return ((x - 0.8) ** 2).sum(dim=-1), (x.sum(dim=-1) - 1.0).unsqueeze(-1)

    opt = CONFIG(disk, seed=0, n_initial=5, **SMALL)
    run_steps(opt, 14)
    result = opt.result()
    assert result.feasible and not result.infeasible_declared
    assert result.f_best == pytest.approx(0.18, abs=0.02)


def test_ego_with_constraints_falls_back_to_feasibility_then_improves() -> None:
    @polyopt.objective(bounds=([0.0, 0.0], [1.0, 1.0]), n_constraints=1, name="corner")
    def corner(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # feasible only where x0 >= 0.85: rare in a small Sobol design
        return ((x - 0.5) ** 2).sum(dim=-1), (0.85 - x[:, :1])

    opt = polyopt.make("optimizer", "ego", corner, seed=0, n_initial=4, **SMALL)
    run_steps(opt, 10)
    result = opt.result()
    assert result.feasible
    assert result.f_best < 0.2
