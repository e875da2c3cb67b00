"""A shifted quadratic bowl: the simplest objective worth registering."""

from __future__ import annotations

import torch
from torch import Tensor

import polyopt


class Bowl(polyopt.Objective):
    """``f(x) = sum_i (x_i - center)^2`` on ``[-2, 2]^dim``; optimum 0 at ``x = center``.

    Args:
        dim: number of variables.
        center: where the minimum lies, in every coordinate (inside ``[-2, 2]``).
    """

    optimum = 0.0

    def __init__(self, dim: int = 4, center: float = 0.5) -> None:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
            raise polyopt.ConfigError(f"dim={dim!r}; expected a positive integer")
        if not -2.0 <= center <= 2.0:
            raise polyopt.ConfigError(f"center={center!r}; expected a number in [-2, 2]")
        self.space = polyopt.Box(-2.0, 2.0, dim=dim)
        self.center = float(center)

    def evaluate(self, x: Tensor) -> polyopt.Evaluation:
        """``x: n x dim`` -> ``f: n x 1`` on ``x``'s device and dtype."""
        return polyopt.Evaluation(f=torch.sum((x - self.center) ** 2, dim=-1, keepdim=True))
