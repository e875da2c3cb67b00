"""Envelope Q-learning: it learns preference-dependent actions, refuses what it cannot handle, evaluates."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import torch

import polyopt
from polyopt.environment import Environment, Step
from polyopt.errors import IncompatibleProblemError
from polyopt.spaces import Box, Integer
from polyopt.testing import OptimizerContract, contract_problem
from polyopt_envs.cartpole import CartPole
from polyopt_plugins.morl.envelope import Envelope


class _TwoArms(Environment):
    """One-step episodes: action 0 pays (1, 0), action 1 pays (0, 1)."""

    name = "two-arms"
    reward_dim = 2

    def __init__(self, num_envs: int = 8) -> None:
        self.num_envs = num_envs
        self.observation_space = Box([0.0], [1.0])
        self.action_space = Integer(0, 1)
        self._ended = torch.zeros(num_envs, dtype=torch.bool)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        self._ended.zero_()
        return torch.ones(self.num_envs, 1)

    def step(self, action: torch.Tensor) -> Step:
        reward = torch.nn.functional.one_hot(action.reshape(-1).long(), 2).float()
        reset = self._ended.clone()
        reward = torch.where(reset.unsqueeze(1), 0.0, reward)
        self._ended = ~reset
        return Step(torch.ones(self.num_envs, 1), reward, ~reset, torch.zeros_like(reset))

    def spawn(self, num_envs: int) -> _TwoArms:
        return _TwoArms(num_envs)

    def pareto_front(self, gamma: float = 1.0) -> torch.Tensor:
        return torch.eye(2)


def test_learns_the_arm_each_preference_wants() -> None:
    opt = Envelope(
        _TwoArms(), seed=0, device="cpu", hidden_sizes=[32], learning_starts=16,
        epsilon_decay_steps=400, learning_rate=3e-3, ref_point=[0.0, 0.0], eval_weights=11,
        eval_episodes=1,
    )  # fmt: skip
    for _ in range(120):
        opt.step()
    obs = torch.ones(2, 1)
    actions = opt.greedy(obs, torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    assert actions.tolist() == [0, 1]
    result = opt.result()
    assert result.metrics["cardinality"] == 2 and result.metrics["mul"] == pytest.approx(
        0, abs=1e-6
    )
    torch.testing.assert_close(result.returns.sort(0).values, torch.eye(2).sort(0).values)


def test_the_front_is_evaluated_on_deep_sea_treasure() -> None:
    env = polyopt.make("environment", "deep-sea-treasure", num_envs=2)
    opt = Envelope(env, seed=0, device="cpu", hidden_sizes=[16], learning_starts=4, eval_weights=5)
    for _ in range(3):
        opt.step()
    result = opt.result()
    assert result.returns.shape[1] == 2 and result.n_env_steps == 6
    assert result.extras["n_eval_env_steps"] > 0
    assert {"hypervolume", "eum", "sparsity", "cardinality", "igd", "mul"} <= set(result.metrics)


def test_refuses_scalar_rewards_and_continuous_actions() -> None:
    with pytest.raises(IncompatibleProblemError, match="vector reward"):
        Envelope(CartPole(), seed=0)
    pendulum = pytest.importorskip("gymnasium") and polyopt.GymnasiumEnv("Pendulum-v1")
    with pytest.raises(IncompatibleProblemError, match="one discrete action dimension"):
        Envelope(pendulum, seed=0)


def test_prioritized_replay_learns_the_arms() -> None:
    opt = Envelope(
        _TwoArms(), seed=0, device="cpu", hidden_sizes=[32], learning_starts=16,
        epsilon_decay_steps=400, learning_rate=3e-3, ref_point=[0.0, 0.0], eval_weights=11,
        eval_episodes=1, per=True,
    )  # fmt: skip
    for _ in range(120):
        opt.step()
    actions = opt.greedy(torch.ones(2, 1), torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    assert actions.tolist() == [0, 1]
    filled = opt.priority[: opt.buffer_count]
    assert float(filled.min()) > 0 and float(filled.max()) > float(
        filled.min()
    )  # updated priorities


class TestPrioritizedEnvelopeContract(OptimizerContract):
    """The conformance kit with prioritized replay on (determinism, exact resume, RNG, dtypes)."""

    optimizer = "envelope"

    def make_problem(self) -> tuple[Any, dict[str, Any]]:
        problem, config = contract_problem(Envelope)
        return problem, {**config, "per": True}


def _random_actions(**config: Any) -> list[int]:
    """The actions of one Deep Sea Treasure submarine acting at random (before learning starts)."""
    env = polyopt.make("environment", "deep-sea-treasure", num_envs=1)
    opt = Envelope(
        env, seed=0, device="cpu", hidden_sizes=[8], learning_starts=10**6, eval_weights=2,
        eval_episodes=1, **config,
    )  # fmt: skip
    for _ in range(300):
        opt.step()
    return opt.buffer["action"][: opt.buffer_count].tolist()


def test_exploration_repeats_random_actions() -> None:
    def repeated(actions: list[int]) -> float:
        return sum(a == b for a, b in itertools.pairwise(actions)) / (len(actions) - 1)

    one_step = repeated(_random_actions())
    held = repeated(_random_actions(explore_repeat=1.0, explore_max_repeat=20))
    assert one_step < 0.4  # independent actions repeat a quarter of the time
    assert held > 0.7  # durations of 1-20 steps, mean about 5.6


def test_exploration_repeat_options_are_checked() -> None:
    with pytest.raises(polyopt.ConfigError, match="explore_repeat=-1"):
        Envelope(_TwoArms(), seed=0, explore_repeat=-1.0)
    with pytest.raises(polyopt.ConfigError, match="explore_max_repeat=0"):
        Envelope(_TwoArms(), seed=0, explore_repeat=2.0, explore_max_repeat=0)


class TestRepeatedExplorationEnvelopeContract(OptimizerContract):
    """The conformance kit with repeated exploratory actions on (determinism, exact resume, RNG)."""

    optimizer = "envelope"

    def make_problem(self) -> tuple[Any, dict[str, Any]]:
        problem, config = contract_problem(Envelope)
        return problem, {**config, "explore_repeat": 2.0, "explore_max_repeat": 8}


def test_select_best_keeps_the_best_evaluated_network() -> None:
    opt = Envelope(
        _TwoArms(), seed=0, device="cpu", hidden_sizes=[32], learning_starts=16,
        epsilon_decay_steps=400, learning_rate=3e-3, ref_point=[-1.0, -1.0], eval_weights=11,
        eval_episodes=1, eval_every=8 * 60, select_best=True,
    )  # fmt: skip
    for _ in range(120):
        opt.step()
    assert opt._best_step == 8 * 120 and opt._best_hv == pytest.approx(3.0)  # both arms
    with torch.no_grad():  # spoil the network: every preference now takes the first arm
        last = opt.q.net[-1]
        assert isinstance(last, torch.nn.Linear)
        last.weight.zero_()
        last.bias.copy_(torch.tensor([1.0, 1.0, 0.0, 0.0]))
    result = opt.result()
    assert result.extras["selected_step"] == 8 * 120
    assert result.metrics["cardinality"] == 2
    pick = opt.greedy(torch.ones(2, 1), torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    assert pick.tolist() == [0, 1]  # the kept copy acts until training resumes
    opt.step()
    assert opt.greedy(torch.ones(1, 1), torch.tensor([[0.1, 0.9]])).tolist() == [0]


def test_select_best_needs_evaluations() -> None:
    with pytest.raises(polyopt.ConfigError, match="select_best=True needs evaluations"):
        Envelope(_TwoArms(), seed=0, select_best=True)


class TestSelectBestEnvelopeContract(OptimizerContract):
    """The conformance kit with select_best on (exact resume with the kept copy)."""

    optimizer = "envelope"

    def make_problem(self) -> tuple[Any, dict[str, Any]]:
        problem, config = contract_problem(Envelope)
        return problem, {**config, "select_best": True, "eval_every": 2}
