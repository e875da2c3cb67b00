"""Text tasks: warm-start data is correct, rewards give exact and partial credit, the tensor view works."""

from __future__ import annotations

import pytest
import torch

from polyopt.errors import ConfigError
from polyopt_envs.text import Addition, Countdown, Reverse, SortDigits
from polyopt_envs.text.base import TaskBatch

TASKS = [Addition, SortDigits, Reverse, Countdown]


@pytest.mark.parametrize("task_cls", TASKS)
def test_reference_completions_get_full_reward(task_cls: type) -> None:
    task = task_cls()
    batch, answers = task.generate(16, torch.Generator().manual_seed(0))
    rewards = task.score(batch, answers)
    assert rewards.shape == (16, 2)
    assert bool((rewards == 1).all())


@pytest.mark.parametrize("task_cls", TASKS)
def test_wrong_completions_get_partial_or_no_credit(task_cls: type) -> None:
    task = task_cls()
    batch, answers = task.generate(16, torch.Generator().manual_seed(1))
    wrong = [a[:-1] + ("0" if a[-1] != "0" else "1") for a in answers]
    rewards = task.score(batch, wrong)
    assert bool((rewards[:, 0] == 0).all() | (task_cls is Countdown))
    assert bool((rewards[:, 1] < 1).all())
    assert float(task.score(batch, ["?"] * 16)[:, 1].max()) < float(rewards[:, 1].mean()) + 1e-9


def test_addition_is_right() -> None:
    batch, answers = Addition(n_digits=3).generate(32, torch.Generator().manual_seed(0))
    for p, a in zip(batch.prompts, answers):
        x, y = p[:-1].split("+")
        assert int(x) + int(y) == int(a)


def test_countdown_checks_the_numbers_used() -> None:
    task = Countdown()
    batch = TaskBatch(["2,3,4:10="], {"numbers": [[2, 3, 4]], "target": [10]})
    assert task.score(batch, ["2*3+4"]).tolist() == [[1.0, 1.0]]
    assert task.score(batch, ["5+5"])[0, 0] == 0  # right value, wrong numbers
    assert task.score(batch, ["__import__"]).tolist() == [[0.0, 0.0]]


def test_tensor_view_round_trips_completions() -> None:
    task = Reverse(num_envs=3)
    obs = task.reset(seed=0)
    assert obs.shape == (3, task.prompt_len)
    answers = task._batch.fields["answer"]
    step = task.step(task._codes(answers, task.completion_len))
    assert bool((step.reward == 1).all()) and bool(step.terminated.all())


def test_bad_options_raise() -> None:
    with pytest.raises(ConfigError, match="n_digits"):
        Addition(n_digits=0)
    with pytest.raises(ConfigError, match="num_envs"):
        SortDigits(num_envs=0)
