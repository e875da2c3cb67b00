"""A (1+λ) hill climber: the smallest complete polyopt optimizer, written as a template to copy.

Each step mutates the incumbent ``λ`` times with Gaussian noise in the space's unit-cube encoding (so bounds and
integer rounding come from the space itself), evaluates the batch, and keeps the best point if it improves on the
incumbent. The step size follows the 1/5th success rule. Until a valid point is known it samples uniformly.

Everything is a tensor on ``self.device``; the step is branch-free (``torch.where``), so it never waits on the
host, and all randomness comes from ``self.generator``, so runs repeat exactly and resume exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt import AskTellOptimizer, Evaluation, Result

__all__ = ["HillClimb", "HillClimbConfig"]


@dataclass
class HillClimbConfig:
    offspring: int = 8
    """λ: candidates mutated from the incumbent per step."""
    sigma: float = 0.1
    """Initial mutation step: Gaussian standard deviation in the unit cube (every variable's range scaled to 1)."""
    min_sigma: float = 1e-6
    """The step never shrinks below this, so the search never freezes."""
    adapt: bool = True
    """Adapt the step with the 1/5th success rule: grow it while more than one candidate in five beats the
    incumbent, shrink it otherwise."""

    def __post_init__(self) -> None:
        if self.offspring < 1:
            raise ValueError(f"offspring={self.offspring}; expected at least 1")
        if not 0.0 < self.sigma <= 1.0:
            raise ValueError(f"sigma={self.sigma}; expected a step in (0, 1]")
        if not 0.0 < self.min_sigma <= self.sigma:
            raise ValueError(
                f"min_sigma={self.min_sigma}; expected a value in (0, sigma={self.sigma}]"
            )


class HillClimb(AskTellOptimizer):
    """(1+λ) hill climbing with a self-adapting Gaussian step, for one objective on continuous or integer spaces.

    Example:
        >>> import polyopt
        >>> result = polyopt.optimize("hello.hill-climb", "sphere", budget=200, seed=0, offspring=4)
        >>> result.f_best < 1.0
        True
    """

    Config = HillClimbConfig
    name = "hello.hill-climb"
    space_kinds = frozenset({"continuous", "integer"})
    max_objectives = 1
    supports_constraints = False

    def setup(self) -> None:
        space = self.problem.space
        like = {"dtype": self.dtype, "device": self.device}
        self.x_best = torch.zeros(
            space.dim, **like
        )  # d: the incumbent (meaningless while f_best is inf)
        self.z_best = torch.zeros(space.encoded_dim, **like)  # D: the incumbent in the unit cube
        self.f_best = torch.full(
            (), float("inf"), **like
        )  # minimization form; inf = no valid point yet
        self.sigma = torch.full((), self.config.sigma, **like)

    @property
    def batch_size(self) -> int:
        return self.config.offspring

    def ask(self, n: int | None = None) -> Tensor:
        """Return ``n x d`` candidates: mutants of the incumbent, or uniform samples while there is none."""
        n = n or self.batch_size
        shape = (n, self.z_best.shape[0])
        uniform = torch.rand(shape, generator=self.generator, dtype=self.dtype, device=self.device)
        noise = torch.randn(shape, generator=self.generator, dtype=self.dtype, device=self.device)
        mutants = (self.z_best + self.sigma * noise).clamp(0.0, 1.0)
        z = torch.where(torch.isfinite(self.f_best), mutants, uniform)  # (n, D)
        return self.problem.space.decode(z)

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        """Keep the best of ``x`` (``n x d``) if it beats the incumbent; failed rows never do."""
        f = torch.where(evaluation.failed_mask, torch.inf, evaluation.f[:, 0])  # (n,)
        success = (
            (f < self.f_best).to(self.dtype).mean()
        )  # share of candidates that beat the incumbent
        i = f.argmin()
        better = f[i] < self.f_best  # a 0-d bool tensor: no host sync
        self.x_best = torch.where(better, x[i], self.x_best)
        self.z_best = torch.where(
            better, self.problem.space.encode(x[i].unsqueeze(0))[0], self.z_best
        )
        self.f_best = torch.where(better, f[i], self.f_best)
        if self.config.adapt:
            # 1/5th success rule: the step is stationary when one candidate in five improves
            self.sigma = (self.sigma * torch.exp(success - 0.2)).clamp(self.config.min_sigma, 1.0)

    def result(self) -> Result:
        failed = ~torch.isfinite(self.f_best)
        evaluation = Evaluation(f=self.f_best.view(1, 1), failed=failed.view(1))
        return self.make_result(
            self.x_best.unsqueeze(0), evaluation, extras={"sigma": float(self.sigma)}
        )

    def get_state(self) -> dict[str, Any]:
        return {
            "x_best": self.x_best,
            "z_best": self.z_best,
            "f_best": self.f_best,
            "sigma": self.sigma,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        like = {"dtype": self.dtype, "device": self.device}
        self.x_best = state["x_best"].to(**like)
        self.z_best = state["z_best"].to(**like)
        self.f_best = state["f_best"].to(**like)
        self.sigma = state["sigma"].to(**like)
