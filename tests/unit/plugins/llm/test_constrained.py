"""Reward thresholds as constraints: no thresholds is GRPO, a violated constraint's multiplier grows by the dual
step, a satisfied one stays at zero, and bad thresholds are refused."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.text import Addition

SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 3,
    "completions_per_prompt": 4,
    "lr": 1e-3,
    "temperature": 1.0,
}


def make(name: str, **config: Any) -> Any:
    return polyopt.make(
        "optimizer", name, Addition(n_digits=1), seed=0, device="cpu", **{**SMALL, **config}
    )


def test_without_thresholds_it_is_grpo() -> None:
    plain, constrained = make("grpo"), make("constrained-grpo", multi_objective=False)
    for _ in range(2):
        a, b = plain.step(), constrained.step()
        assert a["reward"] == pytest.approx(b["reward"])
        assert b["lambda/exact"] == 0.0 and b["lambda/partial"] == 0.0
    for pa, pb in zip(plain.policy.parameters(), constrained.policy.parameters()):
        assert torch.equal(pa, pb)


def test_a_violated_constraint_raises_its_multiplier_and_a_met_one_does_not() -> None:
    opt = make("constrained-grpo", reward_thresholds=[None, 2.0], multiplier_lr=0.5)
    lambdas = []
    for _ in range(3):
        metrics = opt.step()
        lambdas.append(metrics["lambda/partial"])
        # partial credit is at most 1, so the threshold 2 is violated by 2 - mean every step
        assert metrics["lambda/exact"] == 0.0
    assert lambdas[0] == pytest.approx(0.5 * (2.0 - float(opt.history[0, 1])), rel=1e-5)
    assert lambdas[0] < lambdas[1] < lambdas[2]
    met = make("constrained-grpo", reward_thresholds=[None, -1.0])
    assert all(met.step()["lambda/partial"] == 0.0 for _ in range(2))


def test_the_multipliers_are_bounded_and_bad_thresholds_refused() -> None:
    opt = make("constrained-grpo", reward_thresholds=[5.0, None], multiplier_max=0.1)
    assert opt.step()["lambda/exact"] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="expected 2 entries"):
        make("constrained-grpo", reward_thresholds=[1.0])
    with pytest.raises(ConfigError, match="dynamic"):
        make("constrained-grpo", reward_thresholds=[None, 0.5], reward_normalization="dynamic")
