"""Classic single-objective test functions, batched and device-agnostic."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt.errors import ConfigError

__all__ = ["Sphere", "Rastrigin"]


def _check_dim(dim: int) -> int:
    if not isinstance(dim, int) or dim < 1:
        raise ConfigError(f"dim={dim!r}; expected a positive integer")
    return dim


class Sphere(Objective):
    """``f(x) = sum_i x_i^2`` on ``[-5.12, 5.12]^dim``; optimum 0 at the origin."""

    name = "sphere"
    optimum = 0.0

    def __init__(self, dim: int = 10) -> None:
        self.space = Box(-5.12, 5.12, dim=_check_dim(dim))

    def evaluate(self, x: Tensor) -> Evaluation:
        return Evaluation(f=(x**2).sum(dim=-1, keepdim=True))


class Rastrigin(Objective):
    """``f(x) = 10 d + sum_i (x_i^2 - 10 cos(2 pi x_i))`` on ``[-5.12, 5.12]^dim``; optimum 0 at the origin."""

    name = "rastrigin"
    optimum = 0.0

    def __init__(self, dim: int = 10) -> None:
        self.space = Box(-5.12, 5.12, dim=_check_dim(dim))

    def evaluate(self, x: Tensor) -> Evaluation:
        d = x.shape[-1]
        f = 10.0 * d + (x**2 - 10.0 * torch.cos(2 * math.pi * x)).sum(dim=-1, keepdim=True)
        return Evaluation(f=f)
