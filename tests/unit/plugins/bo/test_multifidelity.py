"""Multi-fidelity, cost-aware EGO on a toy problem with a cheap, biased fidelity and an exact, costly one."""

from __future__ import annotations

import pytest
import torch
from bo_helpers import SMALL

import polyopt
from polyopt.errors import ConfigError
from polyopt_plugins.bo.ego import EGO


def two_fidelity(target: float = 1.0) -> polyopt.Objective:
    """``f(x, s) = (x - 0.3)^2 + (1 - s) * 0.2 * cos(5 x)`` on ``[-1, 1] x [0, 1]``; exact at ``s = 1``, where its
    minimum 0 is at ``x = 0.3``; the cheap end ``s = 0`` is shifted and tilted."""

    @polyopt.objective(bounds=([-1.0, 0.0], [1.0, 1.0]), name="two-fidelity")
    def fn(x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0] - 0.3) ** 2 + (1 - x[:, 1]) * 0.2 * torch.cos(5 * x[:, 0])

    fn.fidelity = (1, target)
    return fn


def test_cost_aware_kg_finds_the_exact_minimum_and_spends_cheap_evaluations() -> None:
    opt = EGO(two_fidelity(), seed=0, n_initial=3, num_fantasies=2, fixed_cost=1.0, **SMALL)
    metrics: dict[str, float] = {}
    opt.evaluation_limit = 8
    while opt.n_evaluations < 8:
        metrics = opt.step()
    s = opt.x_all[3:, 1]
    assert bool((s < 0.99).any()), s  # some model-based evaluations were cheaper than the target
    assert bool((s == 1.0).any()), s  # and some at the target, where results come from
    result = opt.result()
    assert float(result.x_best[1]) == 1.0
    assert result.f_best < 0.05, (result.x_best, result.f_best)
    assert metrics["cost"] < 8 * (1.0 + 1.0)  # less than every evaluation at the target


def test_results_come_only_from_the_target_fidelity() -> None:
    problem = two_fidelity()
    opt = EGO(problem, seed=0, n_initial=3, **SMALL)
    x = torch.tensor([[0.3, 0.0], [0.9, 1.0]], dtype=torch.float64)
    opt.tell(x, problem.evaluate(x))
    result = opt.result()
    assert result.x_best.tolist() == [0.9, 1.0]


def test_bad_fidelities_are_refused() -> None:
    with pytest.raises(ConfigError, match="fidelity=\\(1, 2.0\\)"):
        EGO(two_fidelity(target=2.0), seed=0)
    with pytest.raises(ConfigError, match="model='botorch'"):
        EGO(two_fidelity(), seed=0, model="botorch")
