"""The actor-critic trainer (PPO, A2C): learning on tiny environments, vector rewards, Gymnasium, configs."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import polyopt
from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError
from polyopt.spaces import Box, Integer
from polyopt_envs.cartpole import CartPole
from polyopt_plugins.rl.actor_critic import A2C, PPO


class _OneStep(Environment):
    """One-step episodes from a constant observation: the reward depends on the action only.

    Discrete (``actions`` > 0): action ``a`` pays ``table[a]`` (a vector). Continuous: the reward is
    ``-(a - 0.5)^2``.
    """

    def __init__(self, num_envs: int = 8, table: list[list[float]] | None = None) -> None:
        self.num_envs = num_envs
        self.table = None if table is None else torch.tensor(table)
        self.observation_space = Box([0.0], [1.0])
        if self.table is None:
            self.action_space: Box = Box([-2.0], [2.0])
            self.reward_dim = 1
        else:
            self.action_space = Integer(0, self.table.shape[0] - 1)
            self.reward_dim = self.table.shape[1]
        self._ended = torch.zeros(num_envs, dtype=torch.bool)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        self._ended.zero_()
        return torch.ones(self.num_envs, 1)

    def step(self, action: torch.Tensor) -> Step:
        if self.table is None:
            reward = -((action.reshape(-1, 1) - 0.5) ** 2)
        else:
            reward = self.table[action.reshape(-1).long()]
        reset = self._ended.clone()
        reward = torch.where(reset.unsqueeze(1), 0.0, reward)
        self._ended = ~reset  # every real step ends its episode; the next one is the reset step
        return Step(torch.ones(self.num_envs, 1), reward, ~reset, torch.zeros_like(reset))


def _train(cls: type[PPO], env: Environment, steps: int, **config: Any) -> PPO:
    opt = cls(env, seed=0, device="cpu", **config)
    for _ in range(steps):
        opt.step()
    return opt


def test_ppo_learns_the_best_discrete_action() -> None:
    env = _OneStep(table=[[0.0], [1.0], [0.2]])
    opt = _train(PPO, env, 15, rollout_steps=8, learning_rate=3e-3, eval_episodes=8)
    result = opt.result()
    assert result.returns.tolist() == [[1.0]]  # the most likely action is the best one
    assert result.metrics["eval_length"] == 1.0


def test_ppo_learns_a_continuous_action() -> None:
    env = _OneStep()
    opt = _train(PPO, env, 40, rollout_steps=8, learning_rate=3e-3, ent_coef=0.0)
    mean_action = opt.net.act(torch.ones(1, 1)).item()
    assert mean_action == pytest.approx(0.5, abs=0.15)
    assert opt.result().returns.item() > -0.03


@pytest.mark.parametrize(("preference", "best"), [([1.0, 0.0], 0), ([0.1, 0.9], 1)])
def test_a_preference_scalarizes_vector_rewards(preference: list[float], best: int) -> None:
    """MO-PPO: the weights pick which objective the policy serves; returns stay vectors."""
    env = _OneStep(table=[[1.0, 0.0], [0.0, 1.0]])
    opt = _train(PPO, env, 15, rollout_steps=8, learning_rate=3e-3, preference=preference)
    result = opt.result()
    assert result.returns.shape == (1, 2) and result.reward_names == ["r0", "r1"]
    assert env.table is not None and result.returns[0].tolist() == env.table[best].tolist()


def test_a2c_learns_and_is_ppo_with_one_full_batch_epoch() -> None:
    cfg = A2C.Config()
    assert (cfg.update_epochs, cfg.num_minibatches, cfg.optimizer) == (1, 1, "rmsprop")
    env = _OneStep(table=[[0.0], [1.0]])
    opt = _train(A2C, env, 60, ent_coef=0.0)
    assert opt.result().returns.tolist() == [[1.0]]


def test_one_epoch_clipped_loss_equals_the_policy_gradient() -> None:
    """With one epoch over one minibatch every ratio is 1: ppo-clip and reinforce give the same update."""
    env = CartPole(num_envs=2)
    a = A2C(env, seed=3, device="cpu", policy_loss="ppo-clip")
    b = A2C(CartPole(num_envs=2), seed=3, device="cpu", policy_loss="reinforce")
    a.step()
    b.step()
    for pa, pb in zip(a.net.parameters(), b.net.parameters()):
        torch.testing.assert_close(pa, pb)


def test_cartpole_episode_log_matches_its_rewards() -> None:
    """Reset steps are neither rewarded nor counted: each logged CartPole return equals its length."""
    opt = _train(PPO, CartPole(num_envs=4), 3, rollout_steps=64, eval_episodes=0)
    episodes = opt.result().extras["episodes"]
    assert episodes.shape[0] > 10
    torch.testing.assert_close(episodes[:, 1], episodes[:, 2])
    assert opt.n_env_steps == 3 * 64 * 4


def test_training_and_evaluation_steps_are_counted_apart() -> None:
    opt = _train(PPO, CartPole(num_envs=2), 2, rollout_steps=16, eval_episodes=4)
    result = opt.result()
    assert result.n_env_steps == 2 * 16 * 2
    assert result.extras["n_eval_env_steps"] >= result.extras["eval_lengths"].sum().item()
    assert result.extras["eval_returns"].shape == (4, 1)
    opt.result()  # cached: the same step is evaluated once
    assert opt.result().extras["n_eval_env_steps"] == result.extras["n_eval_env_steps"]


def test_the_learning_rate_anneals_over_the_env_step_budget() -> None:
    opt = PPO(CartPole(num_envs=2), seed=0, device="cpu", rollout_steps=8, eval_episodes=0)
    polyopt.run(opt, polyopt.Budget(env_steps=64))
    assert opt.opt.param_groups[0]["lr"] == pytest.approx(2.5e-4 * (1 - 48 / 64))


def test_gymnasium_environments_train_and_repeat() -> None:
    pytest.importorskip("gymnasium")

    def run() -> torch.Tensor:
        env = polyopt.GymnasiumEnv("CartPole-v1", num_envs=2)
        opt = _train(PPO, env, 2, rollout_steps=16, eval_episodes=2)
        return opt.result().returns

    first = run()
    assert torch.equal(first, run())


def test_gymnasium_continuous_actions() -> None:
    pytest.importorskip("gymnasium")
    env = polyopt.GymnasiumEnv("Pendulum-v1", num_envs=2)
    opt = _train(PPO, env, 2, rollout_steps=8, eval_episodes=2, eval_max_steps=20)
    result = opt.result()
    assert opt.net.kind == "gaussian" and result.returns.shape == (1, 1)
    assert bool(torch.isfinite(result.returns).all())


def test_bad_configs_name_the_value() -> None:
    env = _OneStep(table=[[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ConfigError, match=r"preference=\[1.0\]; expected 2 weights"):
        PPO(env, seed=0, preference=[1.0])
    with pytest.raises(ConfigError, match="num_minibatches=100"):
        PPO(env, seed=0, rollout_steps=2, num_minibatches=100)
    with pytest.raises(ConfigError, match="optimizer='sgd'"):
        PPO(env, seed=0, optimizer="sgd")
    with pytest.raises(ConfigError, match="no-such-loss"):
        PPO(env, seed=0, policy_loss="no-such-loss")


def test_registered_names() -> None:
    reg = polyopt.registry()
    assert reg.get("optimizer", "actor-critic-ppo") is PPO
    assert reg.get("optimizer", "a2c") is A2C


@pytest.mark.parametrize(
    "space", [Integer(0, 2), Integer([0, 1], [3, 2]), Box([-1.0, 0.0], [1.0, 2.0])]
)
def test_sampled_log_probabilities_match_evaluation(space: Box) -> None:
    """The log-probability a sample carries is the one the update recomputes; actions lie in the space."""
    from polyopt_plugins.rl.networks import ActorCritic

    net = ActorCritic(3, space, 1, [8])
    obs = torch.randn(16, 3, generator=torch.Generator().manual_seed(0))
    action, logp = net.sample(obs, torch.Generator().manual_seed(1))
    again, entropy = net.evaluate(obs, action)
    torch.testing.assert_close(logp, again)
    assert bool((entropy > 0).all())
    assert bool(space.contains(net.to_env(action).double()).all())
    assert bool(space.contains(net.act(obs).double()).all()) or space.kind == "continuous"
