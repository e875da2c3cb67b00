"""POMO on the 0/1 knapsack: rollouts never exceed the capacity and stop only when nothing fits,
checkpoints round-trip, and training closes most of the gap to the exact DP on a tiny problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import CVRPEnv, KnapsackEnv, uniform_knapsack
from polyopt_plugins.co._pomo import ModelConfig
from polyopt_plugins.co.pomo_knapsack import (
    KnapsackAttentionModel,
    KnapsackPolicy,
    knapsack_rollout,
    load_knapsack_policy,
)


def _model(seed: int = 0) -> KnapsackAttentionModel:
    torch.manual_seed(seed)
    return KnapsackAttentionModel(ModelConfig(d_model=16, n_head=2, n_layer=1, ff_dim=32))


def _instances(b: int, n: int, seed: int) -> dict[str, torch.Tensor]:
    return uniform_knapsack(b, n, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("greedy", [False, True])
def test_packings_fit_are_maximal_and_return_their_value(greedy: bool) -> None:
    inst = _instances(3, 9, 0)
    packed, returns, log_prob, steps = knapsack_rollout(
        _model(), inst, greedy=greedy, generator=torch.Generator().manual_seed(1)
    )
    assert packed.shape == (3, 9, 9) and steps >= 3 * 9
    assert bool(packed.diagonal(dim1=1, dim2=2).all())  # rollout p packs item p first
    weight = (packed * inst["weights"].unsqueeze(1)).sum(dim=2)
    assert bool((weight <= inst["capacity"].unsqueeze(1)).all()), "over capacity"
    left = inst["capacity"].unsqueeze(1) - weight  # 3 x 9
    fits = ~packed & (inst["weights"].unsqueeze(1) <= left.unsqueeze(2))
    assert not bool(fits.any()), "stopped while an item still fitted"
    value = (packed * inst["values"][:, :1]).sum(dim=2)
    assert torch.equal(returns, value)
    assert bool((log_prob <= 0).all()) and log_prob.requires_grad


def test_solve_keeps_the_best_start_and_checkpoints_round_trip(tmp_path: Path) -> None:
    inst = _instances(2, 8, 2)
    policy = KnapsackPolicy(_model())
    packed, value = policy.solve(inst["weights"], inst["values"], inst["capacity"])
    _, returns, _, _ = knapsack_rollout(policy.model, inst, greedy=True)
    assert torch.equal(value, returns.max(dim=1).values)
    assert torch.equal((packed * inst["values"][:, 0]).sum(dim=1), value)
    path = tmp_path / "knapsack.pt"
    policy.save(path)
    again = load_knapsack_policy(path).solve(
        inst["weights"], inst["values"][:, 0], inst["capacity"]
    )
    assert torch.equal(again[0], packed) and torch.equal(again[1], value)
    torch.save({"format": "polyopt.co.pomo", "version": 1}, path)
    with pytest.raises(ConfigError, match="it is a polyopt.co.pomo checkpoint"):
        load_knapsack_policy(path)
    with pytest.raises(ConfigError, match="values of shape"):
        policy.solve(inst["weights"], inst["values"][:, 0, :3], inst["capacity"])


def test_training_closes_the_gap_to_the_exact_optimum() -> None:
    options: dict[str, Any] = {
        "d_model": 32,
        "n_head": 4,
        "n_layer": 1,
        "ff_dim": 64,
        "batch_size": 32,
    }
    options["learning_rate"] = 1e-3
    opt = polyopt.make("optimizer", "pomo-knapsack", KnapsackEnv(n=10), seed=0, **options)
    before = opt.evaluation()
    result = polyopt.run(opt, polyopt.Budget(steps=40))
    assert isinstance(result, polyopt.TrainerResult)
    after = result.metrics
    assert after["eval_value"] > before["eval_value"]
    assert after["eval_gap_pct"] < 0.5 * before["eval_gap_pct"]
    assert after["eval_value"] <= after["eval_optimum"] + 1e-9
    assert result.reward_names == ["value"] and float(result.returns[0, 0]) == after["eval_value"]


def test_only_random_single_value_knapsacks_are_accepted() -> None:
    with pytest.raises(polyopt.IncompatibleProblemError, match="n_obj=2"):
        polyopt.make("optimizer", "pomo-knapsack", KnapsackEnv(n=5, n_obj=2))
    fixed = KnapsackEnv(num_envs=1, instances=_instances(1, 5, 0))
    for problem in (fixed, CVRPEnv(n=5)):
        with pytest.raises(polyopt.IncompatibleProblemError, match="KnapsackEnv"):
            polyopt.make("optimizer", "pomo-knapsack", problem)
