"""POMO on CVRP and open CVRP: rollouts obey the environment's masks, augmentation keeps costs, checkpoints
round-trip, and training lowers the cost on a tiny problem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import CVRPEnv, KnapsackEnv, OpenCVRPEnv, TSPEnv, uniform_cvrp
from polyopt_plugins.co._pomo import ModelConfig, augment_xy
from polyopt_plugins.co.pomo import load_policy
from polyopt_plugins.co.pomo_cvrp import (
    CVRPAttentionModel,
    CVRPPolicy,
    cvrp_rollout,
    load_cvrp_policy,
    route_costs,
)


def _model(seed: int = 0) -> CVRPAttentionModel:
    torch.manual_seed(seed)
    return CVRPAttentionModel(ModelConfig(d_model=16, n_head=2, n_layer=1, ff_dim=32))


def _instances(b: int, n: int, seed: int) -> dict[str, torch.Tensor]:
    return uniform_cvrp(b, n, generator=torch.Generator().manual_seed(seed))


def _check_solutions(seq: torch.Tensor, inst: dict[str, torch.Tensor], rows: int) -> None:
    """Every customer served exactly once, every route within the capacity, starting at the depot."""
    n = inst["demands"].shape[1] - 1
    demands = inst["demands"].repeat_interleave(rows, 0)
    capacity = inst["capacity"].repeat_interleave(rows, 0)
    flat = seq.reshape(demands.shape[0], -1)
    assert bool((flat[:, 0] == 0).all())
    served = torch.nn.functional.one_hot(flat, n + 1)[:, :, 1:].sum(dim=1)
    assert bool((served == 1).all()), "a customer missed or served twice"
    load = demands.gather(1, flat)
    route = (flat == 0).long().cumsum(dim=1)  # route id of each position
    per_route = torch.zeros(flat.shape[0], flat.shape[1] + 1, dtype=load.dtype)
    per_route.scatter_add_(1, route, load)
    assert bool((per_route <= capacity.unsqueeze(1) + 1e-9).all()), "capacity exceeded"


@pytest.mark.parametrize("open_routes", [False, True])
def test_rollouts_respect_the_masks_and_return_minus_their_cost(open_routes: bool) -> None:
    inst = _instances(3, 7, 0)
    inst["capacity"] = torch.full((3,), 12.0)  # tight: several routes each
    seq, returns, log_prob, steps = cvrp_rollout(
        _model(),
        inst,
        open_routes=open_routes,
        greedy=False,
        generator=torch.Generator().manual_seed(1),
    )
    assert seq.shape[:2] == (3, 7) and steps >= 3 * 7 * 8  # 7 customers + a final depot visit
    assert torch.equal(seq[:, :, 1], torch.arange(1, 8).expand(3, 7))  # POMO's starts
    _check_solutions(seq, inst, 7)
    cost = route_costs(inst["locs"].repeat_interleave(7, 0), seq.reshape(21, -1), open_routes)
    assert torch.allclose(-returns.double(), cost.view(3, 7), atol=1e-5)
    assert bool((log_prob <= 0).all()) and log_prob.requires_grad


def test_open_routes_cost_no_more_than_closed_ones() -> None:
    inst = _instances(2, 6, 2)
    seq, _, _, _ = cvrp_rollout(_model(), inst, open_routes=False, greedy=True)
    locs = inst["locs"].repeat_interleave(6, 0)
    closed = route_costs(locs, seq.reshape(12, -1), False)
    opened = route_costs(locs, seq.reshape(12, -1), True)
    assert bool((opened < closed).all())


def test_augmentation_keeps_costs_and_solve_keeps_the_cheapest() -> None:
    inst = _instances(2, 6, 3)
    seq, _, _, _ = cvrp_rollout(_model(), inst, open_routes=False, greedy=True)
    views = augment_xy(inst["locs"])  # 16 x 7 x 2: copy-major
    for open_routes in (False, True):
        costs = route_costs(views, seq[:, 0].repeat(8, 1), open_routes).view(8, 2)
        assert torch.allclose(costs, costs[:1].expand(8, 2))
    assert bool((views >= 0).all() & (views <= 1).all())
    policy = CVRPPolicy(_model(), open_routes=True)
    args = (inst["locs"], inst["demands"], inst["capacity"])
    plain_seq, plain = policy.solve(*args, augment=False)
    aug_seq, aug = policy.solve(*args)
    assert plain_seq.shape == aug_seq.shape == (2, 13)
    _check_solutions(aug_seq, inst, 1)
    assert bool((aug <= plain + 1e-9).all())
    assert torch.allclose(route_costs(inst["locs"], aug_seq, True), aug)


def test_checkpoints_round_trip_and_refuse_other_formats(tmp_path: Path) -> None:
    policy = CVRPPolicy(_model(), open_routes=True)
    path = tmp_path / "cvrp.pt"
    policy.save(path)
    inst = _instances(2, 6, 4)
    args = (inst["locs"], inst["demands"], inst["capacity"])
    again = load_cvrp_policy(path)
    assert again.open_routes
    assert all(torch.equal(a, b) for a, b in zip(policy.solve(*args), again.solve(*args)))
    with pytest.raises(ConfigError, match="it is a polyopt.co.pomo-cvrp checkpoint"):
        load_policy(path)  # the TSP loader names the format and where to load it
    data = torch.load(path, weights_only=True)
    data["version"] = 7
    torch.save(data, path)
    with pytest.raises(ConfigError, match="version 7"):
        load_cvrp_policy(path)


def test_solve_refuses_bad_instances() -> None:
    policy = CVRPPolicy(_model())
    inst = _instances(1, 5, 5)
    with pytest.raises(ConfigError, match="demands of shape"):
        policy.solve(inst["locs"], inst["demands"][:, :3], 20.0)
    with pytest.raises(ConfigError, match="capacity"):
        policy.solve(inst["locs"], inst["demands"], 3.0)


def test_training_lowers_the_cost_on_a_tiny_problem() -> None:
    options: dict[str, Any] = {
        "d_model": 32,
        "n_head": 4,
        "n_layer": 1,
        "ff_dim": 64,
        "batch_size": 32,
    }
    options["learning_rate"] = 1e-3
    opt = polyopt.make("optimizer", "pomo-cvrp", CVRPEnv(n=8), seed=0, device="cpu", **options)
    before = opt.evaluation()["eval_cost"]
    result = polyopt.run(opt, polyopt.Budget(steps=40))
    assert isinstance(result, polyopt.TrainerResult)
    assert result.metrics["eval_cost"] < 0.9 * before
    assert result.metrics["eval_cost_aug"] <= result.metrics["eval_cost"] + 1e-9
    assert result.history is not None and result.history.shape == (40, 1)
    assert result.reward_names == ["-length"]


def test_the_open_variant_follows_the_environment() -> None:
    options: dict[str, Any] = {
        "d_model": 16,
        "n_head": 2,
        "n_layer": 1,
        "ff_dim": 32,
        "batch_size": 4,
    }
    opt = polyopt.make("optimizer", "pomo-cvrp", OpenCVRPEnv(n=5), seed=0, **options)
    result = polyopt.run(opt, polyopt.Budget(steps=1))
    assert isinstance(result, polyopt.TrainerResult)
    assert isinstance(result.policy, CVRPPolicy) and result.policy.open_routes


def test_only_random_cvrp_environments_are_accepted() -> None:
    fixed = CVRPEnv(num_envs=1, instances=_instances(1, 5, 0))
    for problem in (fixed, TSPEnv(n=5), KnapsackEnv(n=5)):
        with pytest.raises(polyopt.IncompatibleProblemError, match="CVRPEnv"):
            polyopt.make("optimizer", "pomo-cvrp", problem)
