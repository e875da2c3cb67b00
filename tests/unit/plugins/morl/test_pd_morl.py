"""PD-MORL: the interpolator, preference-dependent actions (discrete and continuous), refusals, key solutions."""

from __future__ import annotations

import math

import pytest
import torch

import polyopt
from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError, IncompatibleProblemError
from polyopt.spaces import Box, Integer, Space
from polyopt_envs.cartpole import CartPole
from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
from polyopt_plugins.morl.interpolation import PreferenceInterpolator, key_preferences
from polyopt_plugins.morl.pd_morl import PDMORL


class _OneStep(Environment):
    """One-step episodes (the step after an end is a reset step with zero reward).

    Discrete: action 0 pays (1, 0), action 1 pays (0, 1). Continuous: action ``a`` in [0, 1] pays
    ``(sin(a pi / 2), cos(a pi / 2))``, a concave front on which each preference has its own best action,
    ``a* = 2 / pi * atan(w0 / w1)``.
    """

    name = "one-step"
    reward_dim = 2

    def __init__(self, num_envs: int = 8, continuous: bool = False) -> None:
        self.num_envs = num_envs
        self.continuous = continuous
        self.observation_space = Box([0.0], [1.0])
        self.action_space: Space = Box([0.0], [1.0]) if continuous else Integer(0, 1)
        self._ended = torch.zeros(num_envs, dtype=torch.bool)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        self._ended.zero_()
        return torch.ones(self.num_envs, 1)

    def step(self, action: torch.Tensor) -> Step:
        if self.continuous:
            angle = action.reshape(-1).clamp(0, 1) * math.pi / 2
            reward = torch.stack([angle.sin(), angle.cos()], 1)
        else:
            reward = torch.nn.functional.one_hot(action.reshape(-1).long(), 2).float()
        reset = self._ended.clone()
        reward = torch.where(reset.unsqueeze(1), 0.0, reward)
        self._ended = ~reset
        return Step(torch.ones(self.num_envs, 1), reward, ~reset, torch.zeros_like(reset))

    def spawn(self, num_envs: int) -> _OneStep:
        return _OneStep(num_envs, self.continuous)

    def pareto_front(self, gamma: float = 1.0) -> torch.Tensor | None:
        return None if self.continuous else torch.eye(2)


def test_the_interpolator_reproduces_the_keys_and_blends_between_them() -> None:
    keys = key_preferences(2)
    assert keys.tolist() == [[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]]
    solutions = torch.tensor([[4.0, 1.0], [1.0, 4.0], [3.0, 3.0]], dtype=torch.float64)
    interp = PreferenceInterpolator(keys, solutions)
    unit = solutions / solutions.norm(dim=1, keepdim=True)
    torch.testing.assert_close(interp(keys), unit)
    between = interp(torch.tensor([[0.75, 0.25]], dtype=torch.float64))[0]
    assert (
        unit[2, 0] < between[0] < unit[0, 0]
    )  # between the centre's and the first corner's direction
    assert between.norm().item() == pytest.approx(1.0)


def test_discrete_actions_follow_the_preference() -> None:
    opt = PDMORL(
        _OneStep(), seed=0, device="cpu", hidden_sizes=[32], learning_starts=16, batch_size=64,
        epsilon_decay_steps=400, learning_rate=3e-3, tau=0.05, ref_point=[0.0, 0.0], eval_weights=11,
        eval_episodes=1,
    )  # fmt: skip
    for _ in range(150):
        opt.step()
    actions = opt.greedy(torch.ones(2, 1), torch.tensor([[0.9, 0.1], [0.1, 0.9]]))
    assert actions.tolist() == [0, 1]
    result = opt.result()
    assert result.metrics["cardinality"] == 2
    assert result.metrics["mul"] == pytest.approx(0, abs=1e-6)


def test_continuous_actions_follow_the_preference_and_keys_are_learned_online() -> None:
    opt = PDMORL(
        _OneStep(continuous=True), seed=0, device="cpu", hidden_sizes=[32, 32], learning_starts=32,
        batch_size=64, learning_rate=3e-3, actor_learning_rate=3e-3, policy_delay=2, tau=0.05,
        actor_angle_coef=0.1, critic_angle_coef=0.01, ref_point=[0.0, 0.0], key_update_every=10**9,
        eval_weights=5, eval_episodes=1,
    )  # fmt: skip
    assert opt.keys_online and bool(opt.key_values.isnan().all())
    for _ in range(300):
        opt.step()
    w = torch.tensor([[0.9, 0.1], [0.5, 0.5], [0.1, 0.9]])
    actions = opt.greedy(torch.ones(3, 1), w).squeeze(1)
    assert bool((actions[:-1] > actions[1:] + 0.1).all()), actions  # more of objective 0, larger a
    before = opt.n_env_steps
    opt._update_keys()
    assert (
        not bool(opt.key_values.isnan().any()) and opt.n_env_steps == before + 3
    )  # training steps
    assert float(opt.key_values[0, 0]) > float(
        opt.key_values[1, 0]
    )  # the corners' solutions differ
    assert opt.result().returns.shape[1] == 2


def test_key_solutions_come_from_the_known_front() -> None:
    env = DeepSeaTreasure(num_envs=2)
    opt = PDMORL(env, seed=0, device="cpu", hidden_sizes=[8], eval_weights=3)
    front = env.pareto_front(0.99).double()
    assert not opt.keys_online
    torch.testing.assert_close(
        opt.key_values[0], front[front[:, 0].argmax()]
    )  # treasure-only corner
    torch.testing.assert_close(opt.key_values[1], front[front[:, 1].argmax()])  # time-only corner
    with pytest.raises(ConfigError, match="key_solutions='front' but 'one-step' has no known"):
        PDMORL(_OneStep(continuous=True), seed=0, key_solutions="front", ref_point=[0.0, 0.0])
    given = PDMORL(
        env, seed=0, hidden_sizes=[8], key_values=[[1.0, -9.0], [0.1, -1.0], [0.5, -2.0]]
    )
    assert given.key_values.tolist() == [[1.0, -9.0], [0.1, -1.0], [0.5, -2.0]]
    with pytest.raises(ConfigError, match=r"key_values=\[\[1.0, 2.0\]\]; expected 3 rows"):
        PDMORL(env, seed=0, key_values=[[1.0, 2.0]])
    with pytest.raises(ConfigError, match="key_solutions='nope'"):
        PDMORL(env, seed=0, key_solutions="nope")


def test_refuses_scalar_rewards_and_needs_a_reference_point() -> None:
    with pytest.raises(IncompatibleProblemError, match="vector reward"):
        PDMORL(CartPole(), seed=0)
    with pytest.raises(
        ConfigError, match="no reference point is registered for environment 'one-step'"
    ):
        PDMORL(_OneStep(), seed=0)


def test_periodic_evaluations_reach_callbacks_and_count_their_own_steps() -> None:
    env = polyopt.make("environment", "deep-sea-treasure", num_envs=4)
    opt = polyopt.make(
        "optimizer", "pd-morl", env, seed=0, device="cpu", hidden_sizes=[16], learning_starts=8,
        eval_weights=5, eval_episodes=1, eval_every=16,
    )  # fmt: skip
    seen: list[dict[str, float]] = []
    result = polyopt.run(opt, polyopt.Budget(env_steps=40), callbacks=[lambda o, m: seen.append(m)])
    assert isinstance(result, polyopt.TrainerResult)
    evaluated = [m for m in seen if "eval/hypervolume" in m]
    assert [m["env_steps"] for m in evaluated] == [16.0, 32.0]  # metrics a hook or tracker receives
    history = result.history
    assert history is not None and history[:, 0].tolist() == [16.0, 32.0]
    assert result.n_env_steps == 40  # training steps only
    assert result.extras["n_eval_env_steps"] > evaluated[-1]["eval/n_eval_env_steps"] > 0
    assert {"hypervolume", "eum", "sparsity", "cardinality", "igd", "mul"} <= set(result.metrics)


def test_select_best_makes_the_best_evaluated_network_the_policy() -> None:
    with pytest.raises(ConfigError, match="select_best=True needs evaluations to select from"):
        PDMORL(_OneStep(), seed=0, ref_point=[-1.0, -1.0], select_best=True)
    config = dict(
        seed=0, device="cpu", hidden_sizes=[32], learning_starts=16, batch_size=64,
        epsilon_decay_steps=400, learning_rate=3e-3, tau=0.05, ref_point=[-1.0, -1.0],
        eval_weights=11, eval_episodes=1, eval_every=400, select_best=True,
    )  # fmt: skip
    opt = PDMORL(_OneStep(), **config)  # type: ignore[arg-type]
    for _ in range(155):  # 8 envs: evaluations at 400, 800 and 1,200 steps
        opt.step()
    w = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    assert opt._best_hv == pytest.approx(3.0)  # both corners (1, 0) and (0, 1) against (-1, -1)
    with torch.no_grad():  # spoil the network: action 0 looks best for every preference
        assert isinstance(opt.q, torch.nn.Sequential)
        last = opt.q[-1]
        assert isinstance(last, torch.nn.Linear)
        last.weight.zero_()
        last.bias.copy_(torch.tensor([1.0, 1.0, 0.0, 0.0]))
    assert opt.greedy(torch.ones(2, 1), w).tolist() == [0, 0]
    result = opt.result()
    assert result.metrics["hypervolume"] == pytest.approx(3.0)  # the kept network's front
    assert result.extras["selected_step"] == opt._best_step <= 1_200
    assert opt.greedy(torch.ones(2, 1), w).tolist() == [0, 1]
    assert opt.result().extras["selected_step"] == opt._best_step  # a second call agrees
    resumed = PDMORL(_OneStep(), **config)  # type: ignore[arg-type]
    resumed.set_state(opt.get_state())
    assert resumed._best_hv == opt._best_hv and resumed._best_step == opt._best_step
    assert resumed.result().metrics["hypervolume"] == pytest.approx(3.0)
    opt.step()  # training resumes with the network itself
    assert opt.greedy(torch.ones(2, 1), w).tolist() == [0, 0]


def test_learning_rates_fall_linearly_to_their_final_fraction() -> None:
    with pytest.raises(ConfigError, match="lr_final_fraction=1.5; expected an integer >= 0"):
        PDMORL(_OneStep(), seed=0, ref_point=[0.0, 0.0], lr_final_fraction=1.5)
    opt = PDMORL(
        _OneStep(continuous=True), seed=0, device="cpu", hidden_sizes=[8], learning_starts=16,
        ref_point=[0.0, 0.0], key_update_every=10**9, lr_decay_steps=80, lr_final_fraction=0.25,
        learning_rate=1e-3, actor_learning_rate=2e-3,
    )  # fmt: skip
    rates = []
    for _ in range(14):  # 8 envs a step: the decay runs from step 2 (16 env steps) to step 12 (96)
        opt.step()
        rates.append((opt.q_opt.param_groups[0]["lr"], opt.actor_opt.param_groups[0]["lr"]))
    assert rates[1] == pytest.approx((1e-3, 2e-3))
    assert rates[6] == pytest.approx((1e-3 * (1 - 0.75 * 40 / 80), 2e-3 * (1 - 0.75 * 40 / 80)))
    assert rates[11] == rates[13] == pytest.approx((2.5e-4, 5e-4))
