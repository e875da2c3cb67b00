from __future__ import annotations

import io
from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import AdvantageParams, Rollout
from polyopt.errors import ConfigError
from polyopt_envs.text import Addition
from polyopt_plugins.llm.advantage import gae
from polyopt_plugins.llm.truncated import window_rewards

SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 2,
    "completions_per_prompt": 2,
    "temperature": 1.0,
    "lr": 1e-3,
}


def _make(name: str = "t-ppo", seed: int = 0, **config: Any) -> Any:
    return polyopt.make(
        "optimizer", name, Addition(n_digits=2), seed=seed, device="cpu", **SMALL, **config
    )


def _weights(opt: Any) -> list[torch.Tensor]:
    return [p.detach().clone() for p in opt.policy.parameters()]


def test_a_window_as_long_as_the_limit_is_plain_ppo() -> None:
    windowed, ppo = _make(window=4), _make("ppo")  # 2-digit addition: 4 tokens at most
    for _ in range(3):
        windowed.step()
        ppo.step()
    assert all(torch.equal(a, b) for a, b in zip(_weights(windowed), _weights(ppo)))
    assert windowed.n_env_steps == ppo.n_env_steps == 12
    assert torch.equal(windowed.history, ppo.history)


def test_unfinished_completions_continue_from_their_prefix() -> None:
    opt = _make(window=1)
    first = opt.step()
    assert first["completions"] == 4 and first["tokens"] <= 4
    prefix = opt.slots.tokens[:, 0].clone()
    going = ~opt.slots.done
    assert bool((opt.slots.length <= 1).all()) and bool(going.any())
    second = opt.step()
    assert second["completions"] == 0, "a group still writing got a new prompt"
    assert torch.equal(opt.slots.tokens[going, 0], prefix[going])
    assert bool((opt.slots.length[going] == 2).all() | opt.slots.done[going].all())
    assert opt.n_env_steps == 4


def test_cut_off_completions_bootstrap_from_the_critic_value() -> None:
    # row 0 finished on its 2nd token with score 1; row 1 was cut off after 3 tokens, V(s_cut) = 0.5;
    # row 2 had finished earlier (no tokens this window)
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    finished = torch.tensor([True, False, False])
    rewards = window_rewards(
        torch.tensor([1.0, 7.0, 7.0]), mask, finished, torch.tensor([9.0, 0.5, 9.0]), gamma=0.9
    )
    assert torch.equal(rewards, torch.tensor([[0.0, 1.0, 0.0], [0.0, 0.0, 0.45], [0.0, 0.0, 0.0]]))
    values = torch.tensor([[0.2, 0.4, 0.0], [0.1, 0.3, 0.2], [0.0, 0.0, 0.0]])
    r = Rollout(torch.zeros(3), rewards, mask, n_groups=1, values=values)
    _, targets = gae(r, AdvantageParams(gamma=0.9, lam=0.5))
    # extended GAE of the cut-off row: delta_2 = gamma V(s_cut) - V_2, then back with gamma * lam
    d2 = 0.9 * 0.5 - 0.2
    d1 = 0.9 * 0.2 - 0.3
    d0 = 0.9 * 0.3 - 0.1
    adv = [d0 + 0.45 * (d1 + 0.45 * d2), d1 + 0.45 * d2, d2]
    expected = torch.tensor(adv) + values[1]
    assert torch.allclose(targets[1], expected, atol=1e-6)
    assert torch.equal(targets[2], torch.zeros(3))


def test_resume_in_the_middle_of_completions_is_exact() -> None:
    straight = _make(seed=3, window=1)
    for _ in range(5):
        straight.step()
    first = _make(seed=3, window=1)
    for _ in range(2):
        first.step()
    assert bool((first.slots.length > 0).any() & (~first.slots.done).any()), "nothing in progress"
    buffer = io.BytesIO()
    torch.save(first.state_dict(), buffer)
    buffer.seek(0)
    resumed = _make(seed=11, window=1)
    resumed.load_state_dict(torch.load(buffer, weights_only=True))
    for _ in range(3):
        resumed.step()
    assert all(torch.equal(a, b) for a, b in zip(_weights(straight), _weights(resumed)))
    assert torch.equal(straight.slots.tokens, resumed.slots.tokens)
    assert straight.n_env_steps == resumed.n_env_steps
    assert torch.equal(straight.result().labels, resumed.result().labels)


@pytest.mark.parametrize(
    ("key", "value"),
    [("replay", "recent"), ("advantage", "grpo"), ("window", -1), ("mask_truncated", True)],
)
def test_what_needs_whole_completions_is_refused(key: str, value: Any) -> None:
    with pytest.raises((ConfigError, ValueError), match=key if key != "advantage" else "critic"):
        _make(**{key: value})
