"""Deep Sea Treasure: shapes, rewards along the shortest paths, auto-reset, seeding."""

from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError

UP, DOWN, LEFT, RIGHT = 0, 1, 2, 3


def _env(**options: object):
    return polyopt.make("environment", "deep-sea-treasure", **options)


def _shortest_path(row: int, col: int) -> list[int]:
    # each treasure is the top of the sea floor in its column: go right along the surface, then down
    return [RIGHT] * col + [DOWN] * row


def test_reset_and_step_shapes() -> None:
    env = _env(num_envs=4)
    obs = env.reset(seed=0)
    assert obs.shape == (4, 2) and obs.dtype == torch.float32 and bool((obs == 0).all())
    step = env.step(torch.full((4,), RIGHT))
    assert step.obs.shape == (4, 2) and step.reward.shape == (4, env.reward_dim) == (4, 2)
    assert (
        step.terminated.shape == step.truncated.shape == (4,)
        and step.terminated.dtype == torch.bool
    )


@pytest.mark.parametrize("index", range(10))
def test_each_treasure_yields_its_front_return(index: int) -> None:
    env = _env(num_envs=1)
    treasure, neg_steps = env.pareto_front()[index].tolist()
    cells = [(1, 0), (2, 1), (3, 2), (4, 3), (4, 4), (4, 5), (7, 6), (7, 7), (9, 8), (10, 9)]
    env.reset(seed=0)
    total = torch.zeros(2)
    for i, action in enumerate(_shortest_path(*cells[index])):
        step = env.step(torch.tensor([action]))
        total += step.reward[0]
        assert bool(step.terminated[0]) == (i == -neg_steps - 1)
    torch.testing.assert_close(total, torch.tensor([treasure, neg_steps]))


def test_floor_and_walls_block_moves() -> None:
    env = _env(num_envs=2)
    env.reset()
    step = env.step(torch.tensor([UP, LEFT]))  # off the grid: stay at the start
    assert bool((step.obs == 0).all())
    assert step.reward[:, 1].tolist() == [-1.0, -1.0]


def test_auto_reset_on_the_step_after_the_end() -> None:
    env = _env(num_envs=2, max_steps=3)
    env.reset()
    step = env.step(torch.tensor([DOWN, RIGHT]))  # env 0 finds 0.7 at once
    assert step.terminated.tolist() == [True, False]
    torch.testing.assert_close(step.info["final_obs"][0], torch.tensor([1.0, 0.0]))
    step = env.step(torch.tensor([RIGHT, RIGHT]))
    assert step.info["autoreset"].tolist() == [True, False]
    assert step.obs[0].tolist() == [0.0, 0.0] and step.reward[0].tolist() == [0.0, 0.0]
    step = env.step(torch.tensor([RIGHT, RIGHT]))  # env 1 hits the 3-step limit
    assert step.truncated.tolist() == [False, True] and not bool(step.terminated.any())


def test_seeded_slippery_runs_repeat() -> None:
    def run(seed: int) -> torch.Tensor:
        env = _env(num_envs=8, slip=0.5)
        env.reset(seed=seed)
        return torch.stack([env.step(torch.full((8,), DOWN)).obs for _ in range(12)])

    assert torch.equal(run(3), run(3))
    assert not torch.equal(run(3), run(4))


def test_bad_options_raise() -> None:
    with pytest.raises(ConfigError, match="num_envs=0"):
        _env(num_envs=0)
    with pytest.raises(ConfigError, match="slip=1.5"):
        _env(slip=1.5)
