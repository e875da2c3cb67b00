"""Pareto Q-learning: the batched Pareto filter, the tables on a known chain, refusals, the conformance kit."""

from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError, IncompatibleProblemError
from polyopt.spaces import Box, Integer
from polyopt.testing import OptimizerContract
from polyopt_envs.cartpole import CartPole
from polyopt_plugins.morl.pareto_q import ParetoQ, pareto_filter


class _Corridor(Environment):
    """State 0 or 1. From 0: action 0 ends with (1, 0), action 1 moves to 1 with (0, 0). From 1: action 0
    ends with (0, 2), action 1 with (0.5, 0.5). At gamma 0.5 the front is (1, 0), (0, 1) and the unsupported
    (0.25, 0.25)."""

    name = "corridor"
    reward_dim = 2

    def __init__(self, num_envs: int = 4) -> None:
        self.num_envs = num_envs
        self.observation_space = Integer([0], [1])
        self.action_space = Integer(0, 1)
        self._pos = torch.zeros(num_envs, dtype=torch.long)
        self._ended = torch.zeros(num_envs, dtype=torch.bool)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        self._pos.zero_()
        self._ended.zero_()
        return self._pos.unsqueeze(1).float()

    def step(self, action: torch.Tensor) -> Step:
        a = action.reshape(-1).long()
        restart = self._ended.clone()
        at0 = self._pos == 0
        reward = torch.zeros(self.num_envs, 2)
        reward[at0 & (a == 0), 0] = 1.0
        reward[~at0 & (a == 0), 1] = 2.0
        reward[~at0 & (a == 1)] = 0.5
        done = (~at0 | (a == 0)) & ~restart
        reward = torch.where(restart.unsqueeze(1), 0.0, reward)
        self._pos = torch.where(restart | done, 0, torch.ones_like(self._pos))
        obs = torch.where(done, (~at0).long(), self._pos).unsqueeze(1).float()
        self._ended = done
        return Step(obs, reward, done, torch.zeros_like(done))

    def spawn(self, num_envs: int) -> _Corridor:
        return _Corridor(num_envs)

    def pareto_front(self, gamma: float = 1.0) -> torch.Tensor:
        return torch.tensor([[1.0, 0.0], [0.0, 2 * gamma], [0.5 * gamma, 0.5 * gamma]])


def test_pareto_filter_keeps_distinct_non_dominated_rows() -> None:
    values = torch.tensor(
        [[[1.0, 0.0], [0.0, 1.0], [0.5, 0.5], [0.4, 0.4], [1.0, 0.0], [9.0, 9.0]]]
    )
    valid = torch.tensor([[True, True, True, True, True, False]])  # the (9, 9) row does not exist
    vectors, mask, cut = pareto_filter(values, valid, keep=8)
    assert vectors.shape == (1, 8, 2) and not bool(cut[0])
    kept = {tuple(v) for v in vectors[0][mask[0]].tolist()}
    assert kept == {(1.0, 0.0), (0.0, 1.0), (0.5, 0.5)}
    vectors, mask, cut = pareto_filter(
        values, valid, keep=2
    )  # three non-dominated: the largest sums
    assert bool(cut[0]) and int(mask.sum()) == 2


def test_learns_the_whole_front_of_a_chain_and_acts_per_preference() -> None:
    opt = ParetoQ(_Corridor(), seed=0, device="cpu", gamma=0.5, eval_weights=11, eval_episodes=1,
                  ref_point=[0.0, 0.0], epsilon_decay_steps=0, final_epsilon=1.0)  # fmt: skip
    for _ in range(50):
        opt.step()
    learned = {tuple(round(x, 6) for x in v) for v in opt.learned_front().tolist()}
    assert learned == {(1.0, 0.0), (0.0, 1.0), (0.25, 0.25)}
    obs = torch.zeros(2, 1)
    assert opt.greedy(obs, torch.tensor([[0.9, 0.1], [0.1, 0.9]])).tolist() == [0, 1]
    result = opt.result()  # the greedy policies reach the two supported points
    assert result.metrics["cardinality"] == 2
    torch.testing.assert_close(
        result.returns.sort(0).values, torch.tensor([[0.0, 1.0], [1.0, 0.0]]).sort(0).values
    )


def test_termination_is_an_expected_share() -> None:
    """A move that ends the episode half the time bootstraps only the surviving half."""
    env = polyopt.make("environment", "resource-gathering", num_envs=2)
    opt = ParetoQ(env, seed=0, device="cpu", eval_weights=4, eval_episodes=1)
    t = opt.table
    obs = torch.tensor([[2.0, 2.0, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0]])
    nxt = torch.tensor([[1.0, 2.0, 0.0, 0.0], [1.0, 2.0, 0.0, 0.0]])
    s_next = int(t.index(nxt[:1])[0])
    t.nd[s_next, 0, 0] = torch.tensor([0.0, 1.0, 0.0])  # the successor promises one gold
    t.count[s_next, 0] = 1
    reward = torch.tensor([[-1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    opt._learn(obs, torch.tensor([0, 0]), reward, nxt, torch.tensor([True, False]))
    q, mask = t.q_sets(t.index(obs[:1]))
    torch.testing.assert_close(q[0, 0][mask[0, 0]], torch.tensor([[-0.5, 0.5 * 0.99**2, 0.0]]))


def test_learns_the_exact_resource_gathering_front() -> None:
    env = polyopt.make("environment", "resource-gathering", num_envs=64)
    opt = ParetoQ(env, seed=0, device="cpu", eval_weights=15, eval_episodes=1,
                  epsilon_decay_steps=20_000, max_set_size=16)  # fmt: skip
    polyopt.run(opt, polyopt.Budget(env_steps=32_000), threads=1)  # no risky path left on the front
    exact = torch.tensor([[0.0, 0.0, 0.99**9], [0.0, 0.99**17, 0.99**17], [0.0, 0.99**11, 0.0]])
    learned = opt.learned_front()
    assert learned.shape[0] == 3
    torch.testing.assert_close(learned.sort(0).values, exact.sort(0).values)


def test_refuses_continuous_observations_scalar_rewards_and_huge_tables() -> None:
    with pytest.raises(IncompatibleProblemError, match="vector reward"):
        ParetoQ(CartPole(), seed=0)
    env = polyopt.make("environment", "deep-sea-treasure", num_envs=1)
    env.observation_space = Box([0.0, 0.0], [10.0, 10.0])
    with pytest.raises(IncompatibleProblemError, match="tabular"):
        ParetoQ(env, seed=0)
    env = polyopt.make("environment", "deep-sea-treasure", num_envs=1)
    with pytest.raises(ConfigError, match="121 discrete states, above max_states=100"):
        ParetoQ(env, seed=0, max_states=100)
    with pytest.raises(ConfigError, match="max_set_size=0"):
        ParetoQ(env, seed=0, max_set_size=0)


class TestParetoQContract(OptimizerContract):
    """The conformance kit (determinism, exact resume, RNG, dtypes) on Deep Sea Treasure."""

    optimizer = "pareto-q"
