"""A mutation for the evolutionary algorithms: Gaussian noise scaled to each variable's range."""

from __future__ import annotations

import torch
from torch import Tensor

import polyopt


class Gauss:
    """Add ``N(0, (sigma * range)^2)`` to each variable with probability ``prob_var``; continuous spaces.

    Use it with any evolutionary algorithm: ``mutation="hello.gauss", mutation_options={"sigma": 0.3}``.
    """

    role = "mutation"
    space_kinds = frozenset({"continuous"})

    def __init__(self, space: polyopt.Box, *, sigma: float = 0.1, prob_var: float = 0.5) -> None:
        self.scale = sigma * (space.upper - space.lower)  # (d,)
        self.prob_var = prob_var

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``x: n x d`` -> ``n x d``; every random number from ``generator``."""
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        chosen = (
            torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device) < self.prob_var
        )
        return x + torch.where(chosen, noise * self.scale.to(x), 0.0)
