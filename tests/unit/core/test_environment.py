"""GymnasiumEnv: Gymnasium's vector API as batched tensors, single- and multi-objective."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

gym = pytest.importorskip("gymnasium")

import polyopt  # noqa: E402
from polyopt.spaces import Box, Integer  # noqa: E402


def _cartpole(num_envs: int = 4, **kwargs: Any) -> polyopt.GymnasiumEnv:
    return polyopt.GymnasiumEnv("CartPole-v1", num_envs=num_envs, **kwargs)


def _rollout(env: polyopt.Environment, seed: int, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    obs = [env.reset(seed=seed)]
    gen = torch.Generator().manual_seed(seed)
    rewards = []
    for _ in range(steps):
        step = env.step(env.action_space.sample(env.num_envs, generator=gen))
        obs.append(step.obs)
        rewards.append(step.reward)
    return torch.stack(obs), torch.stack(rewards)


def test_cartpole_spaces_shapes_and_dtypes() -> None:
    with _cartpole() as env:
        assert isinstance(env.observation_space, Box) and env.observation_space.bounds.shape == (
            2,
            4,
        )
        assert isinstance(env.action_space, Integer) and env.action_space.bounds.tolist() == [
            [0.0],
            [1.0],
        ]
        assert env.reward_dim == 1
        obs = env.reset(seed=0)
        assert obs.shape == (4, 4) and obs.dtype == torch.float32
        step = env.step(torch.ones(4, 1))
        assert step.obs.shape == (4, 4) and step.obs.dtype == torch.float32
        assert step.reward.shape == (4, 1) and torch.equal(step.reward, torch.ones(4, 1))
        assert step.terminated.shape == step.truncated.shape == (4,)
        assert step.terminated.dtype == step.truncated.dtype == torch.bool


def test_seeded_rollouts_repeat_and_seeds_differ() -> None:
    with _cartpole() as a, _cartpole() as b:
        obs_a, rew_a = _rollout(a, 3, 30)
        obs_b, rew_b = _rollout(b, 3, 30)
        obs_c, _ = _rollout(b, 4, 30)
    assert torch.equal(obs_a, obs_b) and torch.equal(rew_a, rew_b)
    assert not torch.equal(obs_a, obs_c)


def test_finished_episodes_reset_on_the_next_step() -> None:
    with _cartpole() as env:
        env.reset(seed=0)
        for _ in range(100):  # pushing right always topples the pole within about 10 steps
            step = env.step(torch.ones(4, 1))
            if bool(step.done.any()):
                break
        ended = step.done
        assert bool(ended.any()) and not bool(step.info["autoreset"].any())
        after = env.step(torch.ones(4, 1))
        assert torch.equal(after.info["autoreset"], ended)
        assert bool((after.reward[ended] == 0).all())  # the reset step earns nothing
        assert bool((after.obs[ended].abs() <= 0.05).all())  # CartPole starts within +-0.05
        assert not bool(after.done[ended].any())


class _TwoRewards(gym.Env):
    """A tiny multi-objective env: reward (action, -1) per step, declared by ``reward_space``; 3-step episodes."""

    observation_space = gym.spaces.Box(0.0, 3.0, (1,), dtype=np.float32)
    action_space = gym.spaces.Discrete(2)
    reward_space = gym.spaces.Box(np.array([0.0, -1.0]), np.array([1.0, -1.0]), dtype=np.float32)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(1, dtype=np.float32), {}

    def step(self, action: int) -> tuple[np.ndarray, np.ndarray, bool, bool, dict]:
        self.t += 1
        reward = np.array([float(action), -1.0], dtype=np.float32)
        return np.full(1, self.t, dtype=np.float32), reward, self.t >= 3, False, {"t": self.t}


@pytest.mark.parametrize("vectorization", ["sync", "async"])
def test_vector_rewards_are_detected_behind_wrappers(vectorization: str) -> None:
    factory = lambda: gym.wrappers.TimeLimit(_TwoRewards(), max_episode_steps=10)  # noqa: E731
    with polyopt.GymnasiumEnv(factory, num_envs=3, vectorization=vectorization) as env:
        assert env.reward_dim == 2  # read before any step
        env.reset(seed=0)
        step = env.step(torch.tensor([[0.0], [1.0], [1.0]]))
        assert step.reward.shape == (3, 2)
        assert step.reward.tolist() == [[0.0, -1.0], [1.0, -1.0], [1.0, -1.0]]
        assert torch.equal(
            step.info["t"], torch.ones(3, dtype=step.info["t"].dtype)
        )  # info as tensors


def test_deep_sea_treasure_has_two_objectives() -> None:
    mo = pytest.importorskip("mo_gymnasium")
    with polyopt.GymnasiumEnv(lambda: mo.make("deep-sea-treasure-v0"), num_envs=2) as env:
        assert env.reward_dim == 2
        assert env.observation_space.bounds.shape == (2, 2)
        env.reset(seed=0)
        step = env.step(
            torch.tensor([[1.0], [1.0]])
        )  # down from the start reaches the first treasure
        assert step.reward.shape == (2, 2)
        assert step.reward[:, 1].tolist() == [-1.0, -1.0]  # time penalty
        assert step.reward[:, 0].tolist() == pytest.approx([0.7, 0.7])
        assert bool(step.terminated.all())


def test_bad_arguments_raise() -> None:
    with pytest.raises(polyopt.ConfigError, match="num_envs=0"):
        polyopt.GymnasiumEnv("CartPole-v1", num_envs=0)
    with pytest.raises(polyopt.ConfigError, match="vectorization='threads'"):
        polyopt.GymnasiumEnv("CartPole-v1", vectorization="threads")
