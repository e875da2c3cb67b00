"""POMO: the multi-start rollout in the construction environment, augmentation, checkpoints, and that
training lowers the tour length on a tiny problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import TSPEnv, euclidean_distances, tour_length, uniform_tsp
from polyopt_plugins.co.pomo import (
    AttentionModel,
    ModelConfig,
    POMOPolicy,
    _augment,
    load_policy,
    rollout,
)


def _model(seed: int = 0) -> AttentionModel:
    torch.manual_seed(seed)
    return AttentionModel(ModelConfig(d_model=16, n_head=2, n_layer=1, ff_dim=32))


def test_rollouts_start_at_every_city_and_return_minus_their_length() -> None:
    locs = uniform_tsp(3, 7, generator=torch.Generator().manual_seed(0)).float()
    dist = euclidean_distances(locs.double())
    tours, returns, log_prob, steps = rollout(
        _model(), locs, dist, greedy=False, generator=torch.Generator().manual_seed(1)
    )
    assert tours.shape == (3, 7, 7) and steps == 3 * 7 * 7
    assert torch.equal(tours[:, :, 0], torch.arange(7).expand(3, 7))  # POMO's starts
    assert bool((tours.sort(dim=2).values == torch.arange(7)).all())  # every tour a permutation
    lengths = tour_length(tours.reshape(-1, 7), dist.repeat_interleave(7, 0)).view(3, 7)
    assert torch.allclose(-returns.double(), lengths, atol=1e-5)
    assert bool((log_prob <= 0).all()) and log_prob.requires_grad


def test_augmentation_keeps_lengths() -> None:
    locs = uniform_tsp(2, 6, generator=torch.Generator().manual_seed(2))
    views = _augment(locs)
    tour = torch.arange(6).expand(16, 6)
    lengths = tour_length(tour, euclidean_distances(views)).view(8, 2)
    assert torch.allclose(lengths, lengths[:1].expand(8, 2))
    assert bool((views >= 0).all() & (views <= 1).all())


def test_checkpoints_round_trip_and_refuse_other_versions(tmp_path: Path) -> None:
    policy = POMOPolicy(_model())
    path = tmp_path / "pomo.pt"
    policy.save(path)
    locs = uniform_tsp(2, 6, generator=torch.Generator().manual_seed(3)).float()
    tours, lengths = policy.solve(locs)
    again_tours, again = load_policy(path).solve(locs)
    assert torch.equal(tours, again_tours) and torch.equal(lengths, again)
    data = torch.load(path, weights_only=True)
    data["version"] = 99
    torch.save(data, path)
    with pytest.raises(ConfigError, match="version 99"):
        load_policy(path)
    torch.save({"weights": 1}, path)
    with pytest.raises(ConfigError, match="not a polyopt.co.pomo checkpoint"):
        load_policy(path)


def test_augmented_solutions_are_no_longer_than_plain_ones() -> None:
    policy = POMOPolicy(_model())
    locs = uniform_tsp(4, 8, generator=torch.Generator().manual_seed(4)).float()
    _, plain = policy.solve(locs, augment=False)
    _, aug = policy.solve(locs, augment=True)
    assert bool((aug <= plain + 1e-9).all())


def test_training_shortens_tours_on_a_tiny_problem() -> None:
    options = {"d_model": 32, "n_head": 4, "n_layer": 1, "ff_dim": 64, "batch_size": 32}
    options["learning_rate"] = 1e-3
    opt = polyopt.make("optimizer", "pomo", TSPEnv(n=10), seed=0, device="cpu", **options)
    before = opt.evaluation()["eval_length"]
    result = polyopt.run(opt, polyopt.Budget(steps=80))
    assert result.metrics["eval_length"] < 0.95 * before
    assert result.history is not None and result.history.shape == (80, 1)


def test_only_random_tsp_environments_are_accepted() -> None:
    fixed = TSPEnv(num_envs=1, locs=torch.rand(5, 2))
    with pytest.raises(polyopt.IncompatibleProblemError, match="random uniform"):
        polyopt.make("optimizer", "pomo", fixed)
    with pytest.raises(ConfigError, match="d_model=30 is not a multiple of n_head=4"):
        polyopt.make("optimizer", "pomo", TSPEnv(n=5), d_model=30, n_head=4)
