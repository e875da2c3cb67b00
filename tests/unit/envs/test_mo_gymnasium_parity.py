"""The batched torch multi-objective environments against MO-Gymnasium, step for step on seeded trajectories.

Each test steps ``n`` copies of ours and ``n`` MO-Gymnasium environments with the same random actions: the
observations, reward vectors and termination/truncation flags must be equal. When one of our sub-environments
auto-resets (next-step), the matching MO-Gymnasium environment is reset and, where starts are random, set to
our start state; random kills in Resource Gathering use shared draws.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch

from polyopt.environment import Environment
from polyopt.metrics import hypervolume
from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
from polyopt_envs.four_room import FourRoom
from polyopt_envs.fruit_tree import FruitTree
from polyopt_envs.mo_mountain_car import MOMountainCar
from polyopt_envs.resource_gathering import ResourceGathering

mo_gym = pytest.importorskip("mo_gymnasium")


def _compare(
    ours: Environment,
    env_id: str,
    steps: int,
    *,
    kwargs: dict[str, Any] | None = None,
    sync: Callable[[Environment, Any, int], None] | None = None,
    before_step: Callable[[int], None] | None = None,
    seed: int = 0,
    totals: list[torch.Tensor] | None = None,
) -> int:
    """Step both with the same random actions; return how many episodes ended (and append our summed reward
    vector to ``totals``)."""
    n = ours.num_envs
    theirs = [mo_gym.make(env_id, **(kwargs or {})) for _ in range(n)]
    ours.reset(seed=seed)
    for i, env in enumerate(theirs):
        env.reset(seed=seed + i)
        if sync:
            sync(ours, env, i)
    high = int(ours.action_space.bounds[1, 0].item())
    rng = np.random.default_rng(seed)
    ended = [False] * n
    episodes = 0
    total = torch.zeros(ours.reward_dim)
    for t in range(steps):
        actions = rng.integers(0, high + 1, size=n)
        if before_step:
            before_step(t)
        step = ours.step(torch.as_tensor(actions))
        total += step.reward.sum(0)
        for i, env in enumerate(theirs):
            if ended[i]:
                assert bool(step.info["autoreset"][i])
                assert bool((step.reward[i] == 0).all())
                obs, _ = env.reset()
                if sync:
                    sync(ours, env, i)
                    obs = env.unwrapped._get_obs_for_test()
                np.testing.assert_array_equal(step.obs[i].numpy(), np.asarray(obs, np.float32))
                ended[i] = False
                episodes += 1
                continue
            obs, reward, term, trunc, _ = env.step(int(actions[i]))
            where = f"step {t}, env {i}"
            np.testing.assert_array_equal(
                step.obs[i].numpy(), np.asarray(obs, np.float32), err_msg=where
            )
            np.testing.assert_array_equal(
                step.reward[i].numpy(), np.asarray(reward, np.float32), err_msg=where
            )
            assert (bool(step.terminated[i]), bool(step.truncated[i])) == (term, trunc), where
            ended[i] = term or trunc
    for env in theirs:
        env.close()
    if totals is not None:
        totals.append(total)
    return episodes


@pytest.mark.parametrize(
    ("concave", "env_id"),
    [(False, "deep-sea-treasure-v0"), (True, "deep-sea-treasure-concave-v0")],
)
def test_deep_sea_treasure(concave: bool, env_id: str) -> None:
    ours = DeepSeaTreasure(num_envs=4, concave=concave)
    assert _compare(ours, env_id, 400) > 10


def test_resource_gathering_with_shared_kill_draws() -> None:
    draws = np.random.default_rng(1).random((600, 4))
    step = {"t": 0}

    class Shared(ResourceGathering):
        def _uniform(self) -> torch.Tensor:
            return torch.as_tensor(draws[step["t"]], dtype=torch.float32)

    class Stub:
        def __init__(self, i: int) -> None:
            self.i = i

        def random(self) -> float:
            return float(draws[step["t"], self.i])

    def sync(ours: Environment, env: Any, i: int) -> None:
        env.unwrapped.np_random = Stub(i)
        env.unwrapped._get_obs_for_test = env.unwrapped.get_state

    def before(t: int) -> None:
        step["t"] = t

    ours = Shared(num_envs=4)
    totals: list[torch.Tensor] = []
    episodes = _compare(
        ours, "resource-gathering-v0", 600, sync=sync, before_step=before, totals=totals
    )
    assert episodes > 10
    assert totals[0][0] < 0, "some episodes should have ended in a kill"


@pytest.mark.parametrize("depth", [5, 6, 7])
def test_fruit_tree(depth: int) -> None:
    ours = FruitTree(num_envs=3, depth=depth)
    assert _compare(ours, "fruit-tree-v0", 100, kwargs={"depth": depth}) > 20


def test_four_room() -> None:
    assert _compare(FourRoom(num_envs=2), "four-room-v0", 650) >= 4


@pytest.mark.parametrize(
    "options",
    [{}, {"add_speed_objective": True, "merge_move_penalty": True}, {"remove_move_penalty": True}],
)
def test_mo_mountain_car(options: dict[str, Any]) -> None:
    def sync(ours: Environment, env: Any, i: int) -> None:
        state = ours.state[i].numpy().copy()  # type: ignore[attr-defined]
        env.unwrapped.state = state
        env.unwrapped._get_obs_for_test = lambda: np.asarray(state, np.float32)

    ours = MOMountainCar(num_envs=2, **options)
    assert _compare(ours, "mo-mountaincar-v0", 450, kwargs=options, sync=sync) >= 2


def test_mo_mountain_car_reaches_the_goal_like_mo_gymnasium() -> None:
    """Random actions never reach the flag: push with the velocity (an energy-pumping policy) instead."""
    ours = MOMountainCar(num_envs=1)
    theirs = mo_gym.make("mo-mountaincar-v0")
    ours.reset(seed=0)
    theirs.reset(seed=0)
    theirs.unwrapped.state = ours.state[0].numpy().copy()
    for _ in range(200):
        action = 2 if float(ours.state[0, 1]) >= 0 else 0
        step = ours.step(torch.tensor([action]))
        obs, reward, term, _trunc, _ = theirs.step(action)
        np.testing.assert_array_equal(step.obs[0].numpy(), obs)
        np.testing.assert_array_equal(step.reward[0].numpy(), reward)
        if term:
            break
    assert term and bool(step.terminated[0]) and step.reward[0, 0].item() == 0.0


@pytest.mark.parametrize(
    ("env", "env_id", "kwargs"),
    [
        (DeepSeaTreasure(), "deep-sea-treasure-v0", {}),
        (DeepSeaTreasure(concave=True), "deep-sea-treasure-concave-v0", {}),
        (ResourceGathering(), "resource-gathering-v0", {}),
        (FruitTree(depth=6), "fruit-tree-v0", {"depth": 6}),
        (FruitTree(depth=7), "fruit-tree-v0", {"depth": 7}),
    ],
)
@pytest.mark.parametrize("gamma", [1.0, 0.99])
def test_pareto_fronts_equal_mo_gymnasiums(
    env: Environment, env_id: str, kwargs: dict[str, Any], gamma: float
) -> None:
    front = env.pareto_front(gamma)
    assert front is not None
    theirs = np.array(mo_gym.make(env_id, **kwargs).unwrapped.pareto_front(gamma))
    ours = front.double().numpy()
    key = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731  # rows in one order
    np.testing.assert_allclose(key(ours), key(theirs), rtol=1e-6)


def test_front_hypervolumes_are_the_published_ones() -> None:
    """The figures the MORL literature quotes (issue 16): DST 360.4009 with [0, -25] and 854.8504 with
    [0, -50] at gamma 0.99, Fruit Tree depth 6 46,034.8 with [-1]*6, Resource Gathering 3.345 with [-1]*3."""

    def hv(front: torch.Tensor, ref: list[float]) -> float:
        return hypervolume(-front.double(), -torch.tensor(ref, dtype=torch.float64))

    dst = DeepSeaTreasure().pareto_front(0.99)
    assert hv(dst, [0.0, -25.0]) == pytest.approx(360.4009, abs=1e-3)
    assert hv(dst, [0.0, -50.0]) == pytest.approx(854.8504, abs=1e-3)
    assert hv(FruitTree(depth=6).pareto_front(0.99), [-1.0] * 6) == pytest.approx(46034.8, rel=1e-5)
    rg = ResourceGathering().pareto_front(0.99)
    assert hv(rg, [-1.0] * 3) == pytest.approx(3.345, abs=1e-3)
