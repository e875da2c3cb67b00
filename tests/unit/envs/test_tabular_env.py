"""The table-lookup environments (TabularEnv): saved states keep their coordinate form, and a state that is
not one of the environment's is refused by name."""

from __future__ import annotations

import pytest
import torch

from polyopt.errors import ConfigError
from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
from polyopt_envs.four_room import FourRoom


def test_state_dict_speaks_coordinates_and_resumes_exactly() -> None:
    env = FourRoom(num_envs=3, max_steps=20)
    env.reset(seed=1)
    actions = torch.randint(0, 4, (40, 3), generator=torch.Generator().manual_seed(2))
    for a in actions[:25]:
        env.step(a)
    state = env.state_dict()
    assert state["_pos"].shape == (3, 2) and state["_pos"].dtype == torch.long
    assert state["_collected"].shape == (3, env.n_items) and state["_collected"].dtype == torch.bool
    state["_collected"][0, [3, 11]] = True  # items held in the saved state come back as held
    state["ended"][0] = False
    env.load_state_dict(state)
    assert torch.equal(env.state_dict()["_collected"], state["_collected"])
    assert env.step(actions[25]).obs[0, 2:][[3, 11]].tolist() == [1.0, 1.0]
    env.load_state_dict(state)
    other = FourRoom(num_envs=3, max_steps=20)
    other.reset(seed=7)
    other.load_state_dict(state)
    for a in actions[25:]:
        mine, theirs = env.step(a), other.step(a)
        assert torch.equal(mine.obs, theirs.obs) and torch.equal(mine.reward, theirs.reward)
        assert torch.equal(mine.done, theirs.done)


def test_a_state_off_the_map_is_refused() -> None:
    env = DeepSeaTreasure(num_envs=2)
    env.reset(seed=0)
    state = env.state_dict()
    state["_pos"] = torch.tensor([[0, 0], [11, 3]])
    with pytest.raises(ConfigError, match=r"state .*_pos.*\[11, 3\]"):
        env.load_state_dict(state)
