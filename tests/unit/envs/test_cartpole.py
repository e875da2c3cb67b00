"""The batched torch CartPole against Gymnasium's CartPole-v1, step for step."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt.testing import EnvironmentContract
from polyopt_envs.cartpole import CartPole

gym = pytest.importorskip("gymnasium")


@pytest.mark.parametrize("max_steps", [500, 40])
def test_matches_gymnasium_step_for_step(max_steps: int) -> None:
    """Random actions over several episodes (terminations, and truncations at 40 steps): the same float32
    observations, rewards and flags; each new Gymnasium episode starts from the torch env's reset state."""
    n = 3
    ours = CartPole(num_envs=n, max_steps=max_steps)
    ours.reset(seed=0)
    theirs = [gym.make("CartPole-v1", max_episode_steps=max_steps) for _ in range(n)]
    for i, env in enumerate(theirs):
        env.reset(seed=i)
        env.unwrapped.state = ours.state[i].numpy().copy()
    rng = np.random.default_rng(0)
    ended = [False] * n
    episodes = 0
    for _ in range(600):
        actions = rng.integers(0, 2, size=n)
        step = ours.step(torch.as_tensor(actions))
        for i, env in enumerate(theirs):
            if ended[i]:  # our next-step auto-reset: start Gymnasium's episode where ours starts
                assert bool(step.info["autoreset"][i]) and step.reward[i, 0].item() == 0.0
                env.reset()
                env.unwrapped.state = ours.state[i].numpy().copy()
                np.testing.assert_array_equal(step.obs[i].numpy(), env.unwrapped.state.astype("f4"))
                ended[i] = False
                episodes += 1
                continue
            o, r, term, trunc, _ = env.step(int(actions[i]))
            np.testing.assert_array_equal(step.obs[i].numpy(), o)
            assert step.reward[i, 0].item() == r
            assert (bool(step.terminated[i]), bool(step.truncated[i])) == (term, trunc)
            ended[i] = term or trunc
    assert episodes > 10, "the trajectories should cover many episode ends"


def test_seeded_resets_repeat_and_differ_by_seed() -> None:
    a, b = CartPole(num_envs=4), CartPole(num_envs=4)
    assert torch.equal(a.reset(seed=3), b.reset(seed=3))
    assert not torch.equal(a.reset(seed=3), b.reset(seed=4))
    assert bool((a.reset(seed=5).abs() <= 0.05).all())


def test_bad_options_raise() -> None:
    with pytest.raises(ConfigError, match="num_envs=0"):
        CartPole(num_envs=0)
    with pytest.raises(ConfigError, match="max_steps"):
        CartPole(max_steps=0)


def test_registered() -> None:
    env = polyopt.make("environment", "cartpole", num_envs=2)
    assert isinstance(env, CartPole) and env.num_envs == 2


class TestCartPoleContract(EnvironmentContract):
    environment = CartPole
