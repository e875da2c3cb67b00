"""NSGA-III (Deb & Jain 2014), as pymoo 0.6.2 runs it, batched on torch.

Differences from NSGA-II: survival by reference directions (:mod:`.niching`), tournaments decided by
violation then a coin (pymoo's ``comp_by_cv_then_random``), and pymoo's NSGA-III operator defaults
(SBX ``eta=30``, ``prob=1.0``; polynomial mutation ``eta=20``). The population size defaults to the number of
reference directions: Das–Dennis (91 for three objectives) or Riesz s-energy directions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from polyopt_plugins.moea.niching import ReferenceDirectionSurvival
from polyopt_plugins.moea.refdirs import make_ref_dirs
from polyopt_plugins.moea.selection import binary_tournament
from polyopt_plugins.moea.survival_based import SurvivalConfig, SurvivalOptimizer

__all__ = ["NSGA3", "NSGA3Config"]


@dataclass
class NSGA3Config(SurvivalConfig):
    pop_size: int | None = None
    """Population size; None means the number of reference directions."""
    crossover_prob: float = 1.0
    """Probability that a mating recombines (pymoo's NSGA-III: 1.0)."""
    crossover_eta: float = 30.0
    """SBX distribution index (pymoo's NSGA-III: 30)."""
    ref_dirs: str = "das-dennis"
    """Reference directions: ``"das-dennis"`` or ``"riesz"`` (Riesz s-energy)."""
    n_partitions: int | None = None
    """Das–Dennis partitions; None picks about 100 directions (91 from 12 partitions for 3 objectives)."""
    n_ref_dirs: int | None = None
    """Number of Riesz directions; None means as many as the default Das–Dennis set."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ref_dirs not in ("das-dennis", "riesz"):
            raise ValueError(f"ref_dirs={self.ref_dirs!r}; expected 'das-dennis' or 'riesz'")
        if self.n_partitions is not None and self.n_partitions < 1:
            raise ValueError(f"n_partitions={self.n_partitions}; expected at least 1")
        if self.n_ref_dirs is not None and self.n_ref_dirs < 2:
            raise ValueError(f"n_ref_dirs={self.n_ref_dirs}; expected at least 2")


class NSGA3(SurvivalOptimizer):
    """Reference-direction based NSGA for many objectives, with constrained domination, on any space."""

    Config = NSGA3Config

    config: NSGA3Config

    def reference_directions(self) -> Tensor:
        c = self.config
        return make_ref_dirs(
            c.ref_dirs,
            self.problem.n_objectives,
            n_partitions=c.n_partitions,
            n_points=c.n_ref_dirs,
            seed=self.seed,
            dtype=self.dtype,
            device=self.device,
        )

    def default_survival(self) -> tuple[type, dict[str, Any]]:
        return ReferenceDirectionSurvival, {}

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        f_sel, v_sel = self.population.selection()
        return binary_tournament(
            f_sel, v_sel, n_matings, n_parents, self.generator, compare="random"
        )
