"""Multi-turn policy gradient: turns as rows, groups from one start, GiGPO's anchor-state advantages."""

from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt.components import AdvantageParams, TurnBatch
from polyopt.errors import ConfigError
from polyopt_envs.text import NumberWalk
from polyopt_plugins.llm.turn_advantage import episode_grpo, gigpo


def test_gigpo_adds_step_level_advantages_of_turns_from_the_same_state() -> None:
    # one group of two episodes; both start at state "a"; episode 0 succeeds in two turns, episode 1 fails
    turns = TurnBatch(
        rewards=torch.tensor([0.0, 1.0, 0.0, 0.0]),
        episode=torch.tensor([0, 0, 1, 1]),
        turn=torch.tensor([0, 1, 0, 1]),
        states=["a", "b", "a", "c"],
        n_groups=1,
        n_episodes=2,
    )
    p = AdvantageParams(gamma=0.5)
    episode = episode_grpo(turns, p)
    spread = 1 / torch.tensor(0.5).sqrt()  # (1 - 0.5) / std of [1, 0]
    assert torch.allclose(episode, torch.tensor([1.0, 1.0, -1.0, -1.0]) * spread * 0.5, atol=1e-5)
    step = gigpo(turns, p) - episode
    # only the two turns from state "a" form an anchor group: discounted returns 0.5 and 0
    assert torch.allclose(
        step, torch.tensor([1.0, 0.0, -1.0, 0.0]) / torch.tensor(0.5**0.5) * 0.25 * 2, atol=1e-4
    )


def test_turns_are_rows_and_a_groups_episodes_share_their_start() -> None:
    opt = polyopt.make(
        "optimizer",
        "gigpo",
        NumberWalk(max_turns=3),
        seed=0,
        device="cpu",
        n_layer=1,
        d_model=32,
        n_head=2,
        prompts_per_step=2,
        completions_per_prompt=3,
        temperature=1.0,
    )
    metrics = opt.step()
    rows = opt.batch.tasks.prompts
    assert metrics["completions"] == len(rows) == opt.n_env_steps
    first = [p for p in rows if p.endswith(":") and p.count(":") == 1]
    assert len(set(first[:3])) == 1 and len(set(first[3:])) == 1, (
        "a group's episodes differ at the start"
    )
    assert opt.history.shape == (1, 1)


def test_single_turn_axes_are_refused() -> None:
    with pytest.raises(ConfigError, match="replay"):
        polyopt.make("optimizer", "gigpo", NumberWalk(), seed=0, replay="recent")
