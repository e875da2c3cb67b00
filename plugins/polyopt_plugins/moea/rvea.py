"""RVEA (Cheng, Jin, Olhofer & Sendhoff 2016), as pymoo 0.6.2 runs it.

Parents are drawn at random; survival keeps, for each reference vector with members, the member of least
angle-penalized distance (APD), so the population can be smaller than the number of vectors. As in
pymoo, the initial sample is the first population as it is (no survival). The penalty
grows as ``(t / t_max) ** alpha``; every ``ceil(adapt_freq * t_max)`` generations the vectors are rescaled by
the population's ``nadir - ideal``. ``t_max`` is ``max_generations`` or, when None, derived from the run's
evaluation budget (as pymoo does from ``n_eval``), with 100 generations when neither is known.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from polyopt.components import Survivors

from .base import EAConfig, EvolutionaryOptimizer
from .refdirs import make_ref_dirs
from .selection import random_selection
from .survival import APDSurvival

__all__ = ["RVEA", "RVEAConfig"]


@dataclass
class RVEAConfig(EAConfig):
    pop_size: int | None = None
    """Population size; None means the number of reference directions."""
    crossover_prob: float = 1.0
    """Probability that a mating recombines (pymoo's RVEA: 1.0)."""
    crossover_eta: float = 30.0
    """SBX distribution index (pymoo's RVEA: 30)."""
    alpha: float = 2.0
    """Exponent of the APD penalty's growth with the run's progress."""
    adapt_freq: float | None = 0.1
    """Fraction of ``t_max`` between reference vector adaptations; None never adapts."""
    max_generations: int | None = None
    """``t_max``; None derives it from the evaluation budget (100 when unknown)."""
    n_partitions: int | None = None
    """Das–Dennis partitions of the reference vectors; None picks about 100 directions."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.adapt_freq is not None and not 0 < self.adapt_freq <= 1:
            raise ValueError(f"adapt_freq={self.adapt_freq}; expected a fraction in (0, 1] or None")
        if self.max_generations is not None and self.max_generations < 1:
            raise ValueError(f"max_generations={self.max_generations}; expected at least 1")


class RVEA(EvolutionaryOptimizer):
    """Reference vector guided evolutionary algorithm with constrained domination, on any space."""

    Config = RVEAConfig

    def make_survival(self) -> APDSurvival:
        self.ref_dirs = make_ref_dirs(
            "das-dennis",
            self.problem.n_objectives,
            n_partitions=self.config.n_partitions,
            dtype=self.dtype,
            device=self.device,
        )
        return APDSurvival(self.ref_dirs, alpha=self.config.alpha)

    def target_pop_size(self) -> int:
        return self.config.pop_size or self.ref_dirs.shape[0]

    def n_offsprings_now(self) -> int:
        return self.config.n_offsprings or self.target_pop_size()

    def max_generations(self) -> int:
        """``t_max``: configured, or from the evaluation budget."""
        if self.config.max_generations is not None:
            return self.config.max_generations
        if self.evaluation_limit is not None:
            rest = self.evaluation_limit - self.target_pop_size()
            return max(1, math.ceil(rest / self.n_offsprings_now()))
        return 100

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        return random_selection(
            self.pop_x.shape[0], n_matings, n_parents, self.generator, self.device
        )

    def survive(self, f: Tensor, v: Tensor, n_survive: int) -> Survivors:
        # pymoo passes the generation counter before this generation's increment (0 at the initial survival)
        t_max = self.max_generations()
        self.survival.progress = min(1.0, self.n_generations / t_max)
        chosen = self.survival(f, v, n_survive, self.generator)
        freq = None if self.config.adapt_freq is None else math.ceil(t_max * self.config.adapt_freq)
        if (
            freq and (self.n_generations + 1) % freq == 0
        ):  # pymoo's counter is one ahead of ours here
            self.survival.adapt()
        return chosen

    def advance(self, x: Tensor, f: Tensor, g: Tensor | None, failed: Tensor, tag: Tensor) -> None:
        if (
            self.pop_x is None
        ):  # as pymoo: the whole initial sample is the first population, no survival
            n = x.shape[0]
            zeros = torch.zeros(n, dtype=torch.int64, device=x.device)
            self.set_population(
                x, f, g, failed, Survivors(torch.arange(n, device=x.device), zeros, f[:, 0] * 0)
            )
            return
        super().advance(x, f, g, failed, tag)
