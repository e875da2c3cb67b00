"""The multi-turn number walk: moves, endings, state keys and optimal warm-start pairs."""

from __future__ import annotations

import torch

from polyopt_envs.text import NumberWalk
from polyopt_envs.text.multiturn import _apply, _distances


def test_moves_change_the_value_and_the_episode_ends_at_the_target_or_the_turn_limit() -> None:
    task = NumberWalk(max_turns=3)
    episodes = [{"value": 3, "target": 18, "turn": 0} for _ in range(3)]
    out = task.act(episodes, ["*3", "+1", "x"])
    assert out.observations == ["=9:", "=4:", ""]
    assert out.done.tolist() == [False, False, True] and out.rewards.tolist() == [0, 0, 0]
    assert out.states == ["9>18", "4>18", "3>18"]
    out = task.act(episodes[:2], ["*2", "+1"])
    assert out.rewards.tolist() == [1.0, 0.0] and out.done.tolist() == [True, False]
    out = task.act(episodes[1:2], ["+1"])
    assert out.done.tolist() == [True], "three moves is the limit"


def test_starts_need_two_to_max_turns_moves_and_warm_start_moves_are_optimal() -> None:
    task = NumberWalk(max_turns=4)
    gen = torch.Generator().manual_seed(0)
    episodes, prompts, states = task.start(50, gen)
    for e, p, s in zip(episodes, prompts, states):
        assert p == f"{e['value']}>{e['target']}:" and s == f"{e['value']}>{e['target']}"
        assert 2 <= _distances(e["target"])[e["value"]][0] <= 4
    for transcript, move in zip(*task.sft_batch(50, gen)):
        head, _, _ = transcript.partition(":")
        start, target = map(int, head.split(">"))
        value = int(transcript.rstrip(":").split("=")[-1]) if "=" in transcript else start
        nxt = _apply(value, move)
        assert nxt is not None
        assert _distances(target)[nxt][0] == _distances(target)[value][0] - 1
