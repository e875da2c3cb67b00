"""NSGA-II (Deb et al. 2002), as pymoo 0.6.2 runs it, batched on torch.

Per generation: ``n_offsprings`` children from binary tournaments (smaller violation, then domination, then
larger crowding distance, then a coin), SBX (``eta=15``, ``prob=0.9``, ``prob_var=0.5``) and polynomial
mutation (``eta=20``, ``prob_var=1/n``) for continuous columns (other columns get their kind's
operators), duplicates dropped, and rank-and-crowding survival of parents plus children.

Example:
    >>> import polyopt
    >>> result = polyopt.optimize("nsga2", "zdt1", budget=400, seed=0, pop_size=20)
    >>> result.f.shape[1]
    2
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from polyopt_plugins.moea.selection import binary_tournament
from polyopt_plugins.moea.survival import RankAndCrowdingSurvival
from polyopt_plugins.moea.survival_based import SurvivalConfig, SurvivalOptimizer

__all__ = ["NSGA2", "NSGA2Config"]


@dataclass
class NSGA2Config(SurvivalConfig):
    """NSGA-II options; defaults are pymoo's (``NSGA2()``)."""

    tournament: str = "dominance"
    """Feasible contests: ``"dominance"`` (a dominating parent wins, then larger crowding: pymoo's
    ``comp_by_dom_and_crowding``) or ``"rank"`` (lower front rank, then larger crowding: Deb's crowded
    comparison). Infeasible contests always go to the smaller violation."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tournament not in ("dominance", "rank"):
            raise ValueError(f"tournament={self.tournament!r}; expected 'dominance' or 'rank'")


class NSGA2(SurvivalOptimizer):
    """Non-dominated sorting genetic algorithm II with constrained domination, on any space."""

    Config = NSGA2Config

    config: NSGA2Config

    def default_survival(self) -> tuple[type, dict[str, Any]]:
        return RankAndCrowdingSurvival, {}

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        pop = self.population
        f_sel, v_sel = pop.selection()
        return binary_tournament(
            f_sel,
            v_sel,
            n_matings,
            n_parents,
            self.generator,
            crowding=pop.crowding,
            rank=pop.rank,
            compare=self.config.tournament,
        )
