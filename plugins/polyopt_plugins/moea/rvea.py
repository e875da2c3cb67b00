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
from typing import Any

from torch import Tensor

from polyopt.components import Survivors
from polyopt_plugins.moea.population import Population
from polyopt_plugins.moea.refdirs import make_ref_dirs
from polyopt_plugins.moea.selection import random_selection
from polyopt_plugins.moea.survival import APDSurvival
from polyopt_plugins.moea.survival_based import SurvivalConfig, SurvivalOptimizer

__all__ = ["RVEA", "RVEAConfig"]


@dataclass
class RVEAConfig(SurvivalConfig):
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


class RVEA(SurvivalOptimizer):
    """Reference vector guided evolutionary algorithm with constrained domination, on any space."""

    Config = RVEAConfig

    config: RVEAConfig

    def reference_directions(self) -> Tensor:
        return make_ref_dirs(
            "das-dennis",
            self.problem.n_objectives,
            n_partitions=self.config.n_partitions,
            dtype=self.dtype,
            device=self.device,
        )

    def default_survival(self) -> tuple[type, dict[str, Any]]:
        return APDSurvival, {"alpha": self.config.alpha}

    def max_generations(self) -> int:
        """``t_max``: configured, or from the evaluation budget."""
        if self.config.max_generations is not None:
            return self.config.max_generations
        if self.evaluation_limit is not None:
            rest = self.evaluation_limit - self.target_pop_size()
            return max(1, math.ceil(rest / self.n_offsprings_now()))
        return 100

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        n_pop = len(self.population)
        return random_selection(n_pop, n_matings, n_parents, self.generator, self.device)

    def survive(self, f_sel: Tensor, v_sel: Tensor, n_survive: int) -> Survivors:
        if not isinstance(self.survival, APDSurvival):
            return super().survive(f_sel, v_sel, n_survive)
        # pymoo passes the generation counter before this generation's increment (0 at the initial survival)
        t_max = self.max_generations()
        self.survival.progress = min(1.0, self.n_generations / t_max)
        chosen = self.survival(f_sel, v_sel, n_survive, self.generator)
        freq = None if self.config.adapt_freq is None else math.ceil(t_max * self.config.adapt_freq)
        if (
            freq and (self.n_generations + 1) % freq == 0
        ):  # pymoo's counter is one ahead of ours here
            self.survival.adapt()
        return chosen

    def advance(self, told: Population) -> None:
        if (
            self.pop is None
        ):  # as pymoo: the whole initial sample is the first population, no survival
            self.pop = self.with_selection(told)
            return
        super().advance(told)
