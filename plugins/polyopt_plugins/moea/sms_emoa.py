"""SMS-EMOA (Beume, Naujoks & Emmerich 2007), as pymoo 0.6.2 runs it.

pymoo's variant is generational by default: ``n_offsprings = pop_size`` children per generation, then the
least hypervolume contributor of the splitting front is removed one at a time until ``pop_size`` remain
(``n_offsprings=1`` gives the original steady-state (mu + 1) scheme). Objectives are normalized by the
previous population's ideal and nadir points, the reference point is ``1 + eps`` per objective.
Contributions are exact (moocore, through :func:`polyopt.metrics.hv_contributions`, as pymoo computes them)
up to ``exact_objectives`` objectives, five by default, and Monte Carlo beyond, in per-point bounding boxes
(:func:`~polyopt_plugins.moea.survival.mc_hv_contributions`). Tournaments: smaller violation, then
domination, then a coin.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from torch import Tensor

from polyopt.components import Survivors
from polyopt_plugins.moea.selection import binary_tournament
from polyopt_plugins.moea.survival import HVContributionSurvival
from polyopt_plugins.moea.survival_based import SurvivalConfig, SurvivalOptimizer

__all__ = ["SMSEMOA", "SMSEMOAConfig"]


@dataclass
class SMSEMOAConfig(SurvivalConfig):
    eps: float = 10.0
    """Reference point offset in normalized objective space (pymoo's default 10)."""
    normalize: bool = True
    """Normalize by the previous population's ideal and nadir points before computing contributions."""
    n_samples: int = 10_000
    """Monte Carlo samples per removal with more than ``exact_objectives`` objectives."""
    exact_objectives: int = 5
    """The most objectives with exact (moocore) contributions; an exact call costs about as much as the Monte
    Carlo one up to five objectives and 200 points, and grows steeply beyond."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.eps <= 0:
            raise ValueError(f"eps={self.eps}; expected > 0")
        if self.n_samples < 1:
            raise ValueError(f"n_samples={self.n_samples}; expected at least 1")
        if self.exact_objectives < 0:
            raise ValueError(
                f"exact_objectives={self.exact_objectives}; expected 0 or more (0: always Monte Carlo)"
            )


class SMSEMOA(SurvivalOptimizer):
    """S-metric selection EMOA with constrained domination, on any space."""

    Config = SMSEMOAConfig

    config: SMSEMOAConfig

    def default_survival(self) -> tuple[type, dict[str, Any]]:
        c = self.config
        return HVContributionSurvival, {
            "eps": c.eps,
            "n_samples": c.n_samples,
            "exact_objectives": c.exact_objectives,
        }

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        f_sel, v_sel = self.population.selection()
        return binary_tournament(
            f_sel, v_sel, n_matings, n_parents, self.generator, compare="dominance"
        )

    def survive(self, f_sel: Tensor, v_sel: Tensor, n_survive: int) -> Survivors:
        if isinstance(
            self.survival, HVContributionSurvival
        ):  # normalized by the previous population
            self.survival.bounds = None
            if self.config.normalize and self.pop is not None:
                prev_f, prev_v = self.pop.selection()
                ok = prev_v <= 0  # the previous population's feasible points set the scale
                prev = prev_f[ok] if bool(ok.any()) else prev_f
                self.survival.bounds = (prev.min(dim=0).values, prev.max(dim=0).values + 1e-32)
        return super().survive(f_sel, v_sel, n_survive)
