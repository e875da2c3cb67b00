"""The builtin text tasks: n-digit addition, sorting digits, reversing a string, and countdown arithmetic."""

from __future__ import annotations

import re
from typing import Any, ClassVar

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt_envs.text.base import RewardFn, TaskBatch, TextTask, digits

__all__ = ["Addition", "SortDigits", "Reverse", "Countdown"]


def _check(name: str, value: int, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ConfigError(f"{name}={value!r}; expected an integer in [{lo}, {hi}]")
    return value


class Addition(TextTask):
    """``"47+85="`` -> ``"132"``: add two ``n_digits``-digit numbers."""

    name = "text-addition"

    def __init__(
        self, num_envs: int = 4, *, n_digits: int = 2, device: torch.device | str = "cpu"
    ) -> None:
        self.n_digits = _check("n_digits", n_digits, 1, 6)
        self.prompt_len, self.completion_len = 2 * n_digits + 2, n_digits + 2
        super().__init__(num_envs, device=device)

    def generate(self, n: int, generator: torch.Generator) -> tuple[TaskBatch, list[str]]:
        rows = digits(n, 2 * self.n_digits, generator)
        a = [int("".join(map(str, r[: self.n_digits]))) for r in rows]
        b = [int("".join(map(str, r[self.n_digits :]))) for r in rows]
        answers = [str(x + y) for x, y in zip(a, b)]
        return TaskBatch([f"{x}+{y}=" for x, y in zip(a, b)], {"answer": answers}), answers


class SortDigits(TextTask):
    """``"sort:3912="`` -> ``"1239"``."""

    name = "text-sort"

    def __init__(
        self, num_envs: int = 4, *, length: int = 4, device: torch.device | str = "cpu"
    ) -> None:
        self.length = _check("length", length, 1, 12)
        self.prompt_len, self.completion_len = length + 6, length + 2
        super().__init__(num_envs, device=device)

    def generate(self, n: int, generator: torch.Generator) -> tuple[TaskBatch, list[str]]:
        rows = digits(n, self.length, generator)
        answers = ["".join(map(str, sorted(r))) for r in rows]
        prompts = ["sort:" + "".join(map(str, r)) + "=" for r in rows]
        return TaskBatch(prompts, {"answer": answers}), answers


class Reverse(TextTask):
    """``"rev:abcd="`` -> ``"dcba"`` over lowercase letters."""

    name = "text-reverse"

    def __init__(
        self, num_envs: int = 4, *, length: int = 4, device: torch.device | str = "cpu"
    ) -> None:
        self.length = _check("length", length, 1, 12)
        self.prompt_len, self.completion_len = length + 5, length + 2
        super().__init__(num_envs, device=device)

    def generate(self, n: int, generator: torch.Generator) -> tuple[TaskBatch, list[str]]:
        codes = torch.randint(
            0, 26, (n, self.length), generator=generator, device=generator.device
        ).tolist()
        words = ["".join(chr(97 + c) for c in r) for r in codes]
        answers = [w[::-1] for w in words]
        return TaskBatch([f"rev:{w}=" for w in words], {"answer": answers}), answers


_EXPR = re.compile(r"^[0-9+\-*()]{1,32}$")


def _value(expr: str) -> float | None:
    """Value of an arithmetic expression over digits, ``+ - * ( )``; None if malformed."""
    if not _EXPR.match(expr) or "**" in expr:
        return None
    try:
        return float(eval(expr, {"__builtins__": {}}, {}))
    except (SyntaxError, ZeroDivisionError, TypeError, ValueError):
        return None


def countdown_exact(
    prompts: list[str],
    completions: list[str],
    *,
    numbers: list[list[int]],
    target: list[int],
    **_: Any,
) -> Tensor:
    """1 where the completion uses each given number once and evaluates to the target."""
    out = []
    for c, nums, tgt in zip(completions, numbers, target):
        used = sorted(int(t) for t in re.findall(r"\d+", c))
        out.append(float(_value(c.strip()) == tgt and used == sorted(nums)))
    return torch.tensor(out)


def countdown_partial(
    prompts: list[str], completions: list[str], *, target: list[int], **_: Any
) -> Tensor:
    """``max(0, 1 - |value - target| / (|target| + 1))`` for a well-formed expression, else 0."""
    out = []
    for c, tgt in zip(completions, target):
        v = _value(c.strip())
        out.append(0.0 if v is None else max(0.0, 1 - abs(v - tgt) / (abs(tgt) + 1)))
    return torch.tensor(out)


class Countdown(TextTask):
    """``"3,5,7:22="`` -> ``"3*5+7"``: combine the given one-digit numbers with ``+ - *`` to hit the target."""

    name = "text-countdown"
    reward_fns: ClassVar[dict[str, RewardFn]] = {
        "exact": countdown_exact,
        "partial": countdown_partial,
    }

    def __init__(
        self, num_envs: int = 4, *, n_numbers: int = 3, device: torch.device | str = "cpu"
    ) -> None:
        self.n_numbers = _check("n_numbers", n_numbers, 2, 4)
        self.prompt_len, self.completion_len = 2 * n_numbers + 5, 2 * n_numbers + 1
        super().__init__(num_envs, device=device)

    def generate(self, n: int, generator: torch.Generator) -> tuple[TaskBatch, list[str]]:
        nums = torch.randint(
            1, 10, (n, self.n_numbers), generator=generator, device=generator.device
        ).tolist()
        ops = torch.randint(
            0, 3, (n, self.n_numbers - 1), generator=generator, device=generator.device
        ).tolist()
        exprs = [
            str(r[0]) + "".join("+-*"[o] + str(x) for o, x in zip(op, r[1:]))
            for r, op in zip(nums, ops)
        ]
        targets = [int(_value(e)) for e in exprs]  # type: ignore[arg-type]
        prompts = [",".join(map(str, r)) + f":{t}=" for r, t in zip(nums, targets)]
        return TaskBatch(prompts, {"numbers": nums, "target": targets}), exprs
