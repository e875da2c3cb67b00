"""Survival: which of the merged parents and children form the next population.

A survival is called as ``survival(f, violation, n_survive, generator) -> Survivors`` with minimization-form
``f: N x m`` and total ``violation: N`` (0 feasible, ``+inf`` failed). All of them use feasibility first, as
pymoo's ``Survival(filter_infeasible=True)``: the inner rule picks among feasible points, and infeasible
points fill what remains in order of increasing violation (stable, so ties keep their order).

Registered as ``survival`` components: ``rank-and-crowding`` (NSGA-II), ``reference-direction`` (NSGA-III,
:mod:`.niching`), ``hv-contribution`` (SMS-EMOA) and ``apd`` (RVEA).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from polyopt.components import Survivors
from polyopt.metrics import hv_contributions
from polyopt.pareto import crowding_distance, non_dominated_sort

__all__ = [
    "Survivors",
    "lexsort",
    "feasibility_first",
    "RankAndCrowdingSurvival",
    "HVContributionSurvival",
    "APDSurvival",
    "mc_hv_contributions",
]


def lexsort(keys: list[Tensor]) -> Tensor:
    """Indices sorting by ``keys[0]``, ties by ``keys[1]``, ... (each key ``N``, ascending)."""
    order = torch.argsort(keys[-1], stable=True)
    for key in reversed(keys[:-1]):
        order = order[torch.argsort(key[order], stable=True)]
    return order


Inner = Callable[[Tensor, int, torch.Generator], Survivors]


def feasibility_first(
    inner: Inner, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
) -> Survivors:
    """Apply ``inner(f_feasible, n, generator)`` to the feasible points, then fill with infeasible ones.

    Args:
        inner: survival among feasible points; returns indices into its own ``f``.
        f: ``N x m`` objectives.
        violation: ``N`` total violation.
        n_survive: how many to keep (at most ``N``).
        generator: random generator.

    Returns:
        The survivors, indices into ``f``.
    """
    feasible = violation <= 0
    feas = feasible.nonzero().squeeze(1)
    n_feas = feas.numel()
    n_survive = min(n_survive, f.shape[0])
    parts, ranks, crowd = [], [], []
    n_fronts = torch.zeros((), dtype=torch.int64, device=f.device)
    if n_feas > 0:
        chosen = inner(f[feas], min(n_feas, n_survive), generator)
        parts.append(feas[chosen.index])
        ranks.append(chosen.rank)
        crowd.append(chosen.crowding)
        n_fronts = chosen.rank.max() + 1 if chosen.rank.numel() else n_fronts
    n_rest = n_survive - (parts[0].numel() if parts else 0)
    if n_rest > 0:
        infeas = (~feasible).nonzero().squeeze(1)
        infeas = infeas[torch.argsort(violation[infeas], stable=True)][:n_rest]
        parts.append(infeas)
        ranks.append(n_fronts + torch.arange(infeas.numel(), device=f.device))
        crowd.append(torch.zeros(infeas.numel(), dtype=f.dtype, device=f.device))
    if not parts:
        empty = torch.zeros(0, dtype=torch.int64, device=f.device)
        return Survivors(empty, empty, torch.zeros(0, dtype=f.dtype, device=f.device))
    return Survivors(torch.cat(parts), torch.cat(ranks), torch.cat(crowd))


class RankAndCrowdingSurvival:
    """NSGA-II survival: whole fronts in rank order, the splitting front by descending crowding distance
    (ties broken at random), exactly pymoo's ``RankAndCrowding(crowding_func="cd")``."""

    def __call__(
        self, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
    ) -> Survivors:
        """Choose ``n_survive`` of the ``N x m`` points ``f`` (see the module docstring)."""
        return feasibility_first(self.select, f, violation, n_survive, generator)

    @staticmethod
    def select(f: Tensor, n_survive: int, generator: torch.Generator) -> Survivors:
        """Rank-and-crowding among feasible points ``f`` (``N x m``)."""
        rank = non_dominated_sort(f)
        crowding = crowding_distance(f, rank)
        noise = torch.rand(f.shape[0], generator=generator, device=f.device)
        idx = lexsort([rank, -crowding, noise])[:n_survive]
        return Survivors(idx, rank[idx], crowding[idx])

    def state_dict(self) -> dict[str, Any]:
        """No state."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """No state."""


def mc_hv_contributions(
    f: Tensor, ref: Tensor, n_samples: int, generator: torch.Generator
) -> Tensor:
    """Monte Carlo exclusive hypervolume contributions (any number of objectives, any device).

    Each point's exclusive region lies in a box from the point to ``u``, where ``u_k`` is the reference point's
    ``k``-th value or, lower, the ``k``-th value of another point that is no worse than it in every other
    objective (such a point dominates everything beyond it along ``k``; Bringmann & Friedrich's bounding boxes).
    The samples are shared out equally over the boxes, and a sample is the point's when no other point covers
    it. A contribution is the box's volume times the exclusive share's posterior mean under Jeffreys' prior,
    ``(hits + 1/2) / (samples + 1)``: a box none of whose samples was exclusive is not scored 0 but ranked by its
    volume, which is what a least-contributor search needs when exclusive regions are thin (many objectives).
    Dominated points and duplicates have empty boxes: 0, as exactly.

    Args:
        f: ``n x m`` points inside the reference box.
        ref: ``m`` reference point.
        n_samples: samples per call, shared out over the points (at least 16 per point).
        generator: random generator on ``f``'s device.

    Returns:
        ``n`` estimated contributions.
    """
    n, m = f.shape
    # le[q, p, j]: q no worse than p in objective j; q bounds p's box along k when le holds for every j != k
    le = f.unsqueeze(1) <= f.unsqueeze(0)  # q x p x m
    others = le.sum(dim=2, keepdim=True) - le.to(torch.int64)  # objectives besides k where q <= p
    bounds = (others == m - 1) & ~torch.eye(n, dtype=torch.bool, device=f.device).unsqueeze(2)
    cut = torch.where(bounds, f.unsqueeze(1).expand(n, n, m), torch.inf).amin(dim=0)  # p x m
    upper = torch.minimum(cut, ref.to(f).expand(n, m))
    width = (upper - f).clamp_min(0.0)
    volume = width.prod(dim=1)
    per_point = max(16, n_samples // max(n, 1))
    u = torch.rand(n, per_point, m, generator=generator, device=f.device, dtype=f.dtype)
    s = f.unsqueeze(1) + u * width.unsqueeze(1)  # p x S x m
    covered = torch.zeros(n, per_point, dtype=torch.int64, device=f.device)
    chunk = max(1, (1 << 24) // (n * per_point * m))  # points q compared at once: <= 16M elements
    for q in range(0, n, chunk):
        fq = f[q : q + chunk].view(-1, 1, 1, m)
        covered += (fq <= s.unsqueeze(0)).all(dim=3).sum(dim=0)
    hits = (covered == 1).to(f.dtype).sum(dim=1)  # the point itself always covers its samples
    exclusive = (hits + 0.5) / (per_point + 1)
    return exclusive * volume


class HVContributionSurvival:
    """SMS-EMOA survival (pymoo's ``LeastHypervolumeContributionSurvival``): whole fronts in rank order; from
    the splitting front, the point of least exclusive hypervolume contribution is removed one at a time.

    Objectives are normalized with ``bounds = (ideal, nadir)`` when set (pymoo passes the previous
    population's), else with the points' own min and max; the reference point is ``1 + eps`` in every
    normalized objective. Contributions are exact (moocore, as pymoo computes them for any number of
    objectives) up to ``exact_objectives`` objectives and Monte Carlo (:func:`mc_hv_contributions`) beyond.

    Args:
        eps: reference point offset.
        n_samples: Monte Carlo samples per removal (more than ``exact_objectives`` objectives).
        exact_objectives: the most objectives with exact contributions.
    """

    def __init__(
        self, eps: float = 10.0, n_samples: int = 10_000, exact_objectives: int = 5
    ) -> None:
        self.eps, self.n_samples = float(eps), int(n_samples)
        self.exact_objectives = int(exact_objectives)
        self.bounds: tuple[Tensor, Tensor] | None = None

    def __call__(
        self, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
    ) -> Survivors:
        """Choose ``n_survive`` of the ``N x m`` points ``f``."""
        return feasibility_first(self.select, f, violation, n_survive, generator)

    def contributions(self, fn: Tensor, generator: torch.Generator) -> Tensor:
        """Exclusive contributions of normalized points ``fn`` (``n x m``) to the box up to ``1 + eps``."""
        ref = torch.full((fn.shape[1],), 1.0 + self.eps, dtype=fn.dtype, device=fn.device)
        if fn.shape[1] <= self.exact_objectives:
            return hv_contributions(fn, ref)
        return mc_hv_contributions(fn, ref, self.n_samples, generator)

    def select(self, f: Tensor, n_survive: int, generator: torch.Generator) -> Survivors:
        """Fronts in order, then the least contributors leave the splitting front."""
        rank = non_dominated_sort(f)
        order = torch.argsort(rank, stable=True)
        last = rank[order[n_survive - 1]] if n_survive > 0 else rank.min()
        keep, front = order[rank[order] < last], order[rank[order] == last]
        ideal, nadir = (
            self.bounds if self.bounds is not None else (f.min(dim=0).values, f.max(dim=0).values)
        )
        fn = (f[front] - ideal) / (nadir - ideal).clamp(min=1e-32)
        n_remove = keep.numel() + front.numel() - n_survive
        for _ in range(n_remove):  # greedy removal: each removal changes the others' contributions
            worst = int(self.contributions(fn, generator).argmin())
            mask = torch.arange(front.numel(), device=f.device) != worst
            front, fn = front[mask], fn[mask]
        idx = torch.cat([keep, front])
        return Survivors(idx, rank[idx], torch.zeros(idx.numel(), dtype=f.dtype, device=f.device))

    def state_dict(self) -> dict[str, Any]:
        """No state (the bounds are set by the algorithm before each call)."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """No state."""


class APDSurvival:
    """RVEA's angle-penalized distance survival (Cheng et al. 2016, as pymoo's ``APDSurvival``): each point
    joins the reference vector of smallest angle; each non-empty vector keeps its point of least APD, so the
    population may shrink below ``n_survive``. ``progress`` (``t / t_max``) must be set before each call.

    Args:
        ref_dirs: ``K x m`` reference directions.
        alpha: exponent of the penalty's growth with progress.
    """

    def __init__(self, ref_dirs: Tensor, alpha: float = 2.0) -> None:
        self.ref_dirs, self.alpha = ref_dirs, float(alpha)
        self.ideal: Tensor | None = None
        self.nadir: Tensor | None = None
        self.progress = 0.0
        self.vectors, self.gamma = self._vectors(ref_dirs)

    @staticmethod
    def _vectors(dirs: Tensor) -> tuple[Tensor, Tensor]:
        v = dirs / dirs.norm(dim=1, keepdim=True)
        cos = (v @ v.T).sort(dim=1, descending=True).values[:, 1]  # nearest other vector
        return v, torch.arccos(cos.clamp(-1, 1)).clamp(min=1e-64)

    def adapt(self) -> None:
        """Scale the reference vectors by the current ``nadir - ideal`` (RVEA's adaptation)."""
        if self.nadir is not None and self.ideal is not None:
            base = self.ref_dirs / self.ref_dirs.norm(dim=1, keepdim=True)
            self.vectors, self.gamma = self._vectors(base * (self.nadir - self.ideal))

    def __call__(
        self, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
    ) -> Survivors:
        """Choose at most ``n_survive`` of the ``N x m`` points ``f``."""
        return feasibility_first(self.select, f, violation, n_survive, generator)

    def select(self, f: Tensor, n_survive: int, generator: torch.Generator) -> Survivors:
        """One survivor per non-empty reference vector, by least APD (ordered by vector)."""
        self.vectors, self.gamma = self.vectors.to(f), self.gamma.to(f)
        low = f.min(dim=0).values
        self.ideal = low if self.ideal is None else torch.minimum(self.ideal.to(f), low)
        shifted = f - self.ideal
        dist = shifted.norm(dim=1).clamp(min=1e-64)
        angle = torch.arccos((shifted / dist[:, None] @ self.vectors.T).clamp(-1, 1))  # N x K
        theta, niche = angle.min(dim=1)
        m = f.shape[1]
        penalty = (m if m > 2 else 1.0) * self.progress**self.alpha * theta / self.gamma[niche]
        apd = dist * (1.0 + penalty)
        order = lexsort([niche, apd])
        first = torch.ones_like(niche, dtype=torch.bool)
        first[1:] = niche[order][1:] != niche[order][:-1]
        idx = order[first][:n_survive]
        self.nadir = f[idx].max(dim=0).values
        return Survivors(
            idx, torch.zeros_like(idx), torch.zeros(idx.numel(), dtype=f.dtype, device=f.device)
        )

    def state_dict(self) -> dict[str, Any]:
        """Ideal and nadir points and the adapted vectors."""
        return {
            "ideal": self.ideal,
            "nadir": self.nadir,
            "vectors": self.vectors,
            "gamma": self.gamma,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.ideal, self.nadir = state["ideal"], state["nadir"]
        self.vectors, self.gamma = state["vectors"], state["gamma"]
