"""Reward functions ``f(prompts, completions, **task_fields) -> n`` shared by the text tasks.

Every function takes the task fields it does not use as keyword arguments and ignores them, so several reward
functions can be called with one batch's fields.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

__all__ = ["exact_match", "partial_credit", "brevity"]


def exact_match(
    prompts: list[str], completions: list[str], *, answer: list[str], **_: Any
) -> Tensor:
    """1 where the completion (surrounding spaces stripped) equals the answer, else 0."""
    return torch.tensor([float(c.strip() == a) for c, a in zip(completions, answer)])


def _overlap(c: str, a: str) -> float:
    width = max(len(c), len(a), 1)
    return sum(x == y for x, y in zip(c, a)) / width


def partial_credit(
    prompts: list[str], completions: list[str], *, answer: list[str], **_: Any
) -> Tensor:
    """Fraction of positions where completion and answer agree, over the longer of the two (in [0, 1])."""
    return torch.tensor([_overlap(c.strip(), a) for c, a in zip(completions, answer)])


def brevity(prompts: list[str], completions: list[str], **_: Any) -> Tensor:
    """``-len(completion) / 10``: a second objective that prefers short answers (for multi-objective runs)."""
    return torch.tensor([-len(c) / 10 for c in completions])
