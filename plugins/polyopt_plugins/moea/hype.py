"""HypE (Bader & Zitzler 2011): hypervolume-based many-objective search with Monte Carlo fitness.

The exact hypervolume contributions SMS-EMOA needs grow exponentially with the number of objectives; HypE
estimates by sampling how much hypervolume each point would take with it if it and ``k - 1`` others were
removed at random (the fitness ``I_h(a, P, R, k)``):

- sample ``S`` points uniformly in the box from the population's ideal point to the reference point;
- a sample dominated by ``i`` points (``1 <= i <= k``) gives each of them ``alpha_i / i`` of its volume, with
  ``alpha_i = prod_{l=1}^{i-1} (k - l) / (|P| - l)``;
- a point's fitness is its share summed over the samples, times the box volume over ``S``.

With ``k = 1`` this is the exclusive contribution; with ``k = |P|`` the fitnesses sum to the hypervolume.
Everything is tensorized: one ``S x n`` coverage matrix (built one objective at a time, never ``S x n x m``)
and one matrix-vector product per estimate.

Per generation (as the paper and PlatEMO's ``HypE``): ``pop_size`` children from binary tournaments on the
fitness with ``k = |P|`` (smaller violation first), SBX and polynomial mutation; then non-dominated sorting of
parents plus children, whole fronts kept in order, and from the splitting front the point of least fitness
with ``k`` = the number still to remove is dropped, one at a time. The removals of one generation share one
sample set (common random numbers: each removal updates the coverage counts instead of resampling, the
paper resamples). Objectives are normalized by the merged population's ideal and nadir points and the
reference point is ``1 + ref_offset`` in each (PlatEMO takes 1.2 times the first population's maximum).

Example:
    >>> import polyopt
    >>> result = polyopt.optimize("hype", "dtlz2", budget=400, seed=0, pop_size=20)
    >>> result.f.shape[1]
    3
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt.components import Survivors
from polyopt.pareto import non_dominated_sort
from polyopt_plugins.moea.selection import binary_tournament
from polyopt_plugins.moea.survival import feasibility_first
from polyopt_plugins.moea.survival_based import SurvivalConfig, SurvivalOptimizer

__all__ = ["HypE", "HypEConfig", "HypESurvival", "hype_alpha", "hype_fitness"]


def hype_alpha(k: int, n: int, *, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``n + 1`` weights by dominator count ``i``: ``alpha_i / i`` for ``1 <= i <= k``, 0 elsewhere, with
    ``alpha_i = prod_{l=1}^{i-1} (k - l) / (n - l)``."""
    out = torch.zeros(n + 1, dtype=dtype, device=device)
    k = min(k, n)
    if k < 1:
        return out
    steps = torch.arange(1, k, dtype=dtype, device=device)  # l = 1 .. k-1
    alpha = torch.cat(
        [torch.ones(1, dtype=dtype, device=device), torch.cumprod((k - steps) / (n - steps), 0)]
    )
    out[1 : k + 1] = alpha / torch.arange(1, k + 1, dtype=dtype, device=device)
    return out


def _coverage(
    f: Tensor, ref: Tensor, n_samples: int, generator: torch.Generator
) -> tuple[Tensor, Tensor]:
    """``S x n`` bool (sample dominated by point) for uniform samples in ``[min f, ref]``, and the box volume."""
    lower = torch.minimum(f.min(dim=0).values, ref)
    box = ref - lower
    u = torch.rand(n_samples, f.shape[1], generator=generator, device=f.device, dtype=f.dtype)
    s = lower + u * box  # S x m
    covered = torch.ones(n_samples, f.shape[0], dtype=torch.bool, device=f.device)
    for j in range(f.shape[1]):  # S x n at a time, never S x n x m
        covered &= f[:, j].unsqueeze(0) <= s[:, j : j + 1]
    return covered, box.prod()


def hype_fitness(
    f: Tensor, ref: Tensor, k: int, n_samples: int, generator: torch.Generator
) -> Tensor:
    """HypE's Monte Carlo fitness ``I_h(a, P, R, k)`` of every point (minimization form).

    Args:
        f: ``n x m`` points.
        ref: ``m`` reference point (a point beyond it in any objective gets 0).
        k: the number of points assumed removed (1: exclusive contributions; ``n``: shares of the whole
            hypervolume).
        n_samples: Monte Carlo samples.
        generator: random generator on ``f``'s device.

    Returns:
        ``n`` fitness values (larger is better).
    """
    if f.shape[0] == 0:
        return f.new_zeros(0)
    covered, volume = _coverage(f, ref, n_samples, generator)
    weights = hype_alpha(k, f.shape[0], dtype=f.dtype, device=f.device)[covered.sum(dim=1)]
    return covered.to(f.dtype).T @ weights * (volume / n_samples)


class HypESurvival:
    """HypE's environmental selection (a ``survival`` component): fronts in rank order; from the splitting
    front the point of least HypE fitness (``k`` = points still to remove) leaves, one at a time. Survivors'
    ``crowding`` is their fitness with ``k = n_survive`` (what HypE's mating tournament compares).

    Args:
        n_samples: Monte Carlo samples per generation (10,000 as the paper and PlatEMO).
        ref_offset: the reference point is ``1 + ref_offset`` in objectives normalized to ``[0, 1]``.
    """

    def __init__(self, n_samples: int = 10_000, ref_offset: float = 0.2) -> None:
        if n_samples < 1 or ref_offset <= 0:
            raise ValueError(
                f"n_samples={n_samples}, ref_offset={ref_offset}; expected n_samples >= 1 and "
                "ref_offset > 0"
            )
        self.n_samples, self.ref_offset = int(n_samples), float(ref_offset)

    def __call__(
        self, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
    ) -> Survivors:
        """Choose ``n_survive`` of the ``N x m`` points ``f``."""
        return feasibility_first(self.select, f, violation, n_survive, generator)

    def select(self, f: Tensor, n_survive: int, generator: torch.Generator) -> Survivors:
        """Fronts in order, then greedy removal of the least fit from the splitting front."""
        rank = non_dominated_sort(f)
        order = torch.argsort(rank, stable=True)
        last = rank[order[n_survive - 1]] if n_survive > 0 else rank.min()
        keep, front = order[rank[order] < last], order[rank[order] == last]
        ideal, nadir = f.min(dim=0).values, f.max(dim=0).values
        fn = (f - ideal) / (nadir - ideal).clamp(min=1e-32)  # N x m in [0, 1]
        ref = torch.full((f.shape[1],), 1.0 + self.ref_offset, dtype=f.dtype, device=f.device)
        front = front[self._removal_order(fn[front], keep.numel(), n_survive, ref, generator)]
        idx = torch.cat([keep, front])
        fitness = hype_fitness(fn[idx], ref, idx.numel(), self.n_samples, generator)
        return Survivors(idx, rank[idx], fitness)

    def _removal_order(
        self, fn: Tensor, n_kept: int, n_survive: int, ref: Tensor, generator: torch.Generator
    ) -> Tensor:
        """Indices of the splitting front's points that stay (``fn``: its ``n x m`` normalized points)."""
        n = fn.shape[0]
        n_remove = n_kept + n - n_survive
        if n_remove <= 0:
            return torch.arange(n, device=fn.device)
        covered, volume = _coverage(fn, ref, self.n_samples, generator)
        counts = covered.sum(dim=1)  # dominators of each sample among the points still in
        # Each removal lowers k by one and a sample's count by at most one, so a sample dominated by no
        # point or by more than k points now never weighs anything: drop it once.
        useful = (counts >= 1) & (counts <= n_remove)
        covered, counts = covered[useful], counts[useful]
        cov = covered.to(torch.float32)  # S' x n (float32 halves the memory the products read)
        alive = torch.ones(n, dtype=torch.bool, device=fn.device)
        for removed in range(n_remove):
            k, n_alive = n_remove - removed, n - removed
            weights = hype_alpha(k, n_alive, dtype=torch.float32, device=fn.device)[counts]
            fitness = (cov.T @ weights).to(fn.dtype) * (volume / self.n_samples)
            fitness = torch.where(alive, fitness, torch.inf)
            ties = (fitness <= fitness.min()).nonzero().squeeze(1)  # the least fit, ties at random
            pick = torch.randint(ties.numel(), (1,), generator=generator, device=fn.device)
            worst = ties[pick].squeeze(0)
            alive[worst] = False
            counts = counts - covered[:, worst].to(counts.dtype)
        return alive.nonzero().squeeze(1)

    def state_dict(self) -> dict[str, Any]:
        """No state."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """No state."""


@dataclass
class HypEConfig(SurvivalConfig):
    """HypE options: the population and operators of the evolutionary base, Monte Carlo settings."""

    n_samples: int = 10_000
    """Monte Carlo samples per fitness estimate (10,000 as the paper and PlatEMO)."""
    ref_offset: float = 0.2
    """Reference point ``1 + ref_offset`` in normalized objectives (PlatEMO's factor 1.2)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_samples < 1:
            raise ValueError(f"n_samples={self.n_samples}; expected at least 1")
        if self.ref_offset <= 0:
            raise ValueError(f"ref_offset={self.ref_offset}; expected > 0")


class HypE(SurvivalOptimizer):
    """Hypervolume estimation algorithm for many-objective optimization, on any space, with constraints
    (feasibility first)."""

    Config = HypEConfig

    config: HypEConfig

    def default_survival(self) -> tuple[type, dict[str, Any]]:
        c = self.config
        return HypESurvival, {"n_samples": c.n_samples, "ref_offset": c.ref_offset}

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        """Binary tournaments: smaller violation, then larger fitness (the survivors' ``crowding``)."""
        pop = self.population
        f_sel, v_sel = pop.selection()
        return binary_tournament(
            f_sel,
            v_sel,
            n_matings,
            n_parents,
            self.generator,
            crowding=pop.crowding,
            compare="random",
        )
