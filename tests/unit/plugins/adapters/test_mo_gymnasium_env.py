"""The MO-Gymnasium adapter: any id through the Environment contract, vectorized, with its front."""

from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.deep_sea_treasure import DeepSeaTreasure

pytest.importorskip("mo_gymnasium")


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_vector_rewards_batched(vectorization: str) -> None:
    env = polyopt.make(
        "environment", "mo-gymnasium", env_id="resource-gathering-v0", num_envs=3,
        vectorization=vectorization,
    )  # fmt: skip
    try:
        assert env.reward_dim == 3 and env.observation_space.dim == 4
        env.reset(seed=0)
        step = env.step(torch.tensor([[0], [1], [2]]))
        assert step.reward.shape == (3, 3) and step.obs.shape == (3, 4)
    finally:
        env.close()


def test_the_same_trajectory_as_the_torch_environment() -> None:
    theirs = polyopt.make("environment", "mo-gymnasium", env_id="deep-sea-treasure-v0", num_envs=2)
    ours = DeepSeaTreasure(num_envs=2)
    theirs.reset(seed=0)
    ours.reset(seed=0)
    for action in [[3, 1], [1, 1], [1, 3], [3, 3]]:  # env 1 finds 0.7 at once, then auto-resets
        a, b = theirs.step(torch.tensor(action)), ours.step(torch.tensor(action))
        assert torch.equal(a.obs, b.obs) and torch.equal(a.reward, b.reward)
        assert torch.equal(a.terminated, b.terminated)


def test_pareto_front_is_the_environments() -> None:
    env = polyopt.make("environment", "mo-gymnasium", env_id="deep-sea-treasure-v0")
    front = env.pareto_front(0.99)
    assert front is not None
    torch.testing.assert_close(front, DeepSeaTreasure().pareto_front(0.99))
    minecart = polyopt.make("environment", "mo-gymnasium", env_id="four-room-v0")
    assert minecart.pareto_front(0.99) is None


def test_unknown_id_names_it() -> None:
    with pytest.raises(ConfigError, match="no-such-env-v0"):
        polyopt.make("environment", "mo-gymnasium", env_id="no-such-env-v0")
