"""Online preference learning: the self-play win-rate reward (each completion against the others of its prompt)
and iterative DPO (on-policy pairs judged by the task's gold reward or a registered reward, in rounds)."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.preference import PreferenceAddition
from polyopt_plugins.llm.win_reward import WinRate, bradley_terry


def length(prompts: list[str], completions: list[str], **_: Any) -> torch.Tensor:
    return torch.tensor([float(len(c)) for c in completions])


def test_win_rate_against_the_other_completions_of_the_prompt() -> None:
    prompts = ["a", "a", "a", "b", "b", "c"]
    completions = ["xxx", "x", "xx", "y", "y", "z"]
    out = WinRate.from_reward(length)(prompts, completions)
    # "xxx" beats both others, "x" neither; a tie counts a half; a prompt alone gets a half
    assert out.tolist() == [1.0, 0.0, 0.5, 0.5, 0.5, 0.5]
    soft = WinRate.from_reward(length, temperature=1.0)(prompts, completions)
    assert float(soft[0]) == pytest.approx(float(torch.sigmoid(torch.tensor([2.0, 1.0])).mean()))
    assert float(soft[:3].mean()) == pytest.approx(0.5)  # wins and losses of a prompt balance
    prefer = bradley_terry(length)
    assert prefer(["p"], ["ab"], ["a"]).tolist() == [1.0]
    with pytest.raises(ValueError, match="temperature"):
        bradley_terry(length, -1.0)


def test_registered_win_rate_reads_the_answer_field() -> None:
    fn = polyopt.registry().get("reward", "win-rate")
    out = fn(["1+1=", "1+1=", "2+2="], ["2", "3", "4"], answer=["2", "2", "4"])
    assert out.tolist() == [1.0, 0.0, 0.5]


SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "sft_steps": 60,
    "prompts_per_round": 16,
    "completions_per_prompt": 4,
    "steps_per_round": 3,
    "pairs_per_step": 8,
    "lr": 1e-3,
}


def make(**config: Any) -> Any:
    task = PreferenceAddition(n_digits=1, n_pairs=8, n_test=0)
    return polyopt.make(
        "optimizer", "iterative-dpo", task, seed=0, device="cpu", **{**SMALL, **config}
    )


def test_rounds_pair_the_best_and_worst_sample_and_dpo_raises_the_chosen() -> None:
    opt = make()
    first = opt.step()
    assert first["round/pairs"] > 0 and opt.n_env_steps == 16 * 4
    pairs = opt.round["pairs"]
    task = opt.problem
    gold = task.reward_fns["correct"]
    answers = [str(sum(int(d) for d in p.rstrip("=").split("+"))) for p in pairs.prompts]
    chosen = gold(pairs.prompts, pairs.chosen, answer=answers)
    rejected = gold(pairs.prompts, pairs.rejected, answer=answers)
    assert bool((chosen > rejected).all())
    margins = [first["margin"]] + [opt.step()["margin"] for _ in range(2)]
    assert margins[-1] > margins[0]  # the implicit-reward margin grows on the round's pairs
    opt.step()  # step 3: a new round
    assert opt.history.shape == (2, 1) and opt.n_env_steps == 2 * 16 * 4
    assert opt.result().reward_names == ["judge"]


def test_previous_policy_reference_and_a_registered_judge() -> None:
    opt = make(reference="previous", judge="win-rate")
    assert opt.ref is None  # the sampling policy's log-probabilities are the reference
    metrics = opt.step()
    assert metrics["round/pairs"] > 0
    assert metrics["margin"] == pytest.approx(0.0, abs=1e-5)  # first step: policy == reference
    with pytest.raises(ConfigError, match="loss on pairs"):
        make(loss="kto")
    with pytest.raises(ValueError, match="reference"):
        make(reference="best")
