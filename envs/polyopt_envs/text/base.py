"""The text-task Environment: prompts and answers generated from a seed, completions scored by reward functions.

Two views of the same task:

- strings, used by language-model trainers: :meth:`TextTask.sample` (prompts and the task fields the rewards
  read), :meth:`TextTask.score` (``n x m`` rewards), :meth:`TextTask.sft_batch` (prompt/completion pairs for a
  supervised warm start);
- tensors, the :class:`~polyopt.Environment` contract: observations are prompts and actions are completions,
  both as character codes (``0`` = end/padding, ``i`` = ``alphabet[i-1]``); every step is a one-step episode.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import ClassVar

import torch
from torch import Tensor

from polyopt.components import TaskBatch
from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError
from polyopt.spaces import Integer
from polyopt_envs.text.rewards import exact_match, partial_credit

__all__ = ["TaskBatch", "TextTask", "RewardFn"]

#: ``f(prompts, completions, **task_fields) -> n`` rewards.
RewardFn = Callable[..., Tensor]


class TextTask(Environment):
    """Base of the text tasks. Subclasses implement :meth:`generate` (prompts, answers and fields).

    Args:
        num_envs: prompts per :meth:`reset`/:meth:`step` in the tensor view.
        device: where reward tensors (and observations) are placed.
    """

    alphabet = "0123456789abcdefghijklmnopqrstuvwxyz+-*/=()<>:,.? "
    prompt_len: int = 16
    completion_len: int = 8
    #: reward functions by name, and their default weights when combined into one training reward
    reward_fns: ClassVar[dict[str, RewardFn]] = {"exact": exact_match, "partial": partial_credit}
    default_weights: tuple[float, ...] = (1.0, 0.5)

    def __init__(self, num_envs: int = 4, *, device: torch.device | str = "cpu") -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs={num_envs!r}; expected an integer >= 1")
        self.num_envs, self.device = num_envs, torch.device(device)
        self.reward_dim = len(self.reward_fns)
        self.observation_space = Integer(0, len(self.alphabet), dim=self.prompt_len)
        self.action_space = Integer(0, len(self.alphabet), dim=self.completion_len)
        self._generator = torch.Generator().manual_seed(0)
        self._batch: TaskBatch | None = None

    @abstractmethod
    def generate(self, n: int, generator: torch.Generator) -> tuple[TaskBatch, list[str]]:
        """``n`` random instances: the batch (prompts and fields) and the reference completions."""

    def sample(self, n: int, generator: torch.Generator) -> TaskBatch:
        """``n`` prompts with their task fields."""
        return self.generate(n, generator)[0]

    def sft_batch(self, n: int, generator: torch.Generator) -> tuple[list[str], list[str]]:
        """``n`` (prompt, reference completion) pairs for supervised warm-starting."""
        batch, answers = self.generate(n, generator)
        return batch.prompts, answers

    @property
    def reward_names(self) -> list[str]:
        return list(self.reward_fns)

    def score(self, batch: TaskBatch, completions: list[str]) -> Tensor:
        """``n x m`` rewards, one column per reward function (in :attr:`reward_names` order)."""
        cols = [
            fn(batch.prompts, completions, **batch.fields).to(self.device, torch.float32)
            for fn in self.reward_fns.values()
        ]
        return torch.stack(cols, dim=-1)

    # -- the tensor view (Environment contract) --------------------------------------------------------------

    def _codes(self, texts: list[str], width: int) -> Tensor:
        out = torch.zeros(len(texts), width)
        for i, text in enumerate(texts):
            codes = [self.alphabet.index(c) + 1 for c in text[:width]]
            out[i, : len(codes)] = torch.tensor(codes, dtype=out.dtype)
        return out.to(self.device)

    def _text(self, codes: Tensor) -> list[str]:
        rows = codes.round().long().clamp(0, len(self.alphabet)).tolist()
        return [
            "".join(self.alphabet[c - 1] for c in r[: r.index(0)] if c)
            if 0 in r
            else "".join(self.alphabet[c - 1] for c in r)
            for r in rows
        ]

    def reset(self, seed: int | None = None) -> Tensor:
        if seed is not None:
            self._generator.manual_seed(seed)
        self._batch = self.sample(self.num_envs, self._generator)
        return self._codes(self._batch.prompts, self.prompt_len)

    def step(self, action: Tensor) -> Step:
        if self._batch is None:
            self.reset()
        assert self._batch is not None
        reward = self.score(self._batch, self._text(action))
        obs = self.reset()
        done = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        return Step(obs=obs, reward=reward, terminated=done, truncated=~done)


def digits(n: int, width: int, generator: torch.Generator) -> list[list[int]]:
    """``n`` rows of ``width`` random digits."""
    return torch.randint(0, 10, (n, width), generator=generator, device=generator.device).tolist()
