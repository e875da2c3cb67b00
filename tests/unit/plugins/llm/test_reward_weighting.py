"""Dynamic reward weights: the hypervolume-guided weighting moves weight to the reward along which the front would
grow most and relaxes to the static weights when the step is dominated; the gradient-based one takes weight from
a reward with no spread; the trainer logs, saves and resumes its weights and reports the reward front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import WeightingContext
from polyopt.errors import ConfigError
from polyopt_envs.text import Addition
from polyopt_plugins.llm.reward_weighting import gradient, hypervolume_guided, static

SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 3,
    "completions_per_prompt": 4,
    "lr": 1e-3,
    "temperature": 1.0,
}


def context(rewards: torch.Tensor, history: torch.Tensor, n_groups: int = 1) -> WeightingContext:
    base = torch.ones(rewards.shape[1])
    return WeightingContext(rewards, n_groups, base.clone(), base, history, options={"floor": 0.0})


def test_hypervolume_guided_weights_the_reward_with_the_larger_front_gain() -> None:
    history = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    ctx = context(torch.tensor([[0.8, 0.3]]), history)
    w = hypervolume_guided(ctx)
    # raising reward 1 adds a 0.7-wide strip to the front, raising reward 0 a 0.2-high one
    assert float(w[1]) > float(w[0]) and float(w.sum()) == pytest.approx(2.0)
    assert float(w[1] / w[0]) == pytest.approx(
        float(torch.exp(torch.tensor(0.5 * (1 - 0.2 / 0.7))))
    )
    dominated = context(torch.tensor([[0.05, 0.05]]), history)
    dominated.weights = torch.tensor([1.5, 0.5])
    dominated.options = {"floor": 0.5}
    assert torch.allclose(hypervolume_guided(dominated), torch.tensor([1.25, 0.75]))


def test_gradient_weighting_takes_weight_from_a_reward_without_spread() -> None:
    rewards = torch.stack([torch.tensor([0.0, 1.0, 0.0, 1.0] * 2), torch.full((8,), 3.0)], -1)
    w = gradient(context(rewards, torch.zeros(0, 2), n_groups=2))
    assert float(w[0]) > 1.0 > float(w[1]) and float(w.sum()) == pytest.approx(2.0)
    assert torch.equal(static(context(rewards, torch.zeros(0, 2))), torch.ones(2))


def make(**config: Any) -> Any:
    return polyopt.make(
        "optimizer", "grpo", Addition(n_digits=1), seed=0, device="cpu", **{**SMALL, **config}
    )


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A warm-started model (its samples vary, so the rewards have spread), made once."""
    path = Path(tmp_path_factory.mktemp("warm")) / "sft.pt"
    torch.save(make(sft_steps=20).policy.state_dict(), path)
    return str(path)


@pytest.mark.parametrize("name", ["hypervolume", "gradient"])
def test_trainer_moves_logs_and_resumes_its_weights(name: str, warm: str) -> None:
    options = {"reward_weighting": name, "reward_weighting_options": {"lr": 2.0}, "init_from": warm}
    straight = make(**options)
    metrics = [straight.step() for _ in range(4)]
    weights = torch.tensor([[m["weight/exact"], m["weight/partial"]] for m in metrics])
    assert torch.allclose(weights.sum(-1), torch.full((4,), 1.5))  # the task's weights 1 and 0.5
    assert not torch.allclose(weights, torch.tensor([1.0, 0.5]).expand(4, 2))
    result = straight.result()
    assert result.reward_names == ["exact", "partial"]  # the reward front, not the best step
    first = make(**options)
    for _ in range(2):
        first.step()
    resumed = make(**options)
    resumed.load_state_dict(first.state_dict())
    tail = [resumed.step() for _ in range(2)]
    assert [m["weight/exact"] for m in tail] == pytest.approx(weights[2:, 0].tolist())


def test_static_weighting_is_the_plain_trainer_and_dynamic_needs_positive_weights() -> None:
    plain, named = make(), make(reward_weighting="static")
    for _ in range(2):
        assert plain.step()["reward"] == named.step()["reward"]
    assert "weight/exact" not in plain.step()
    with pytest.raises(ConfigError, match="positive weights"):
        make(reward_weighting="gradient", reward_weights=[1.0, 0.0])
    with pytest.raises(polyopt.UnknownNameError, match="hypervolume"):
        make(reward_weighting="hypervolum")
