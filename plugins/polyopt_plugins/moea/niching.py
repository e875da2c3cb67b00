"""NSGA-III's reference-direction survival (Deb & Jain 2014), compatible with pymoo's
``ReferenceDirectionSurvival``: hyperplane normalization from ideal, extreme and nadir points kept across
generations, association by perpendicular distance, and niching.

Niching is batched. pymoo fills the last front round by round: every niche at the current minimum count
(that still has candidates) takes one member, the closest for an empty niche and a random one otherwise.
That is the same as giving each candidate a *level*, its niche's count plus its place in the niche's queue
(closest first for empty niches, then random), and taking candidates by increasing level with ties broken
at random — which is what :func:`niching` does, with two sorts instead of a loop over rounds.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.components import Survivors
from polyopt.pareto import non_dominated_sort
from polyopt_plugins.moea.survival import feasibility_first, lexsort

__all__ = ["HyperplaneNormalization", "associate", "niching", "ReferenceDirectionSurvival"]

_BLOCK = 1 << 21  # entries of one rows x K block of projections (16 MiB in float64)


class HyperplaneNormalization:
    """Ideal, worst and extreme points tracked over generations, and the nadir estimate from them (pymoo's
    ``HyperplaneNormalization``, branch-free: a singular or degenerate hyperplane falls back to the worst
    point of the first front)."""

    def __init__(self) -> None:
        self.ideal: Tensor | None = None
        self.worst: Tensor | None = None
        self.extremes: Tensor | None = None
        self.nadir: Tensor | None = None

    def update(self, f: Tensor, nd: Tensor) -> tuple[Tensor, Tensor]:
        """Update from all points ``f`` (``N x m``) and the mask ``nd`` (``N``) of the first front; return
        the ideal and nadir points (``m`` each)."""
        low, high = f.min(dim=0).values, f.max(dim=0).values
        ideal = low if self.ideal is None else torch.minimum(self.ideal, low)
        worst = high if self.worst is None else torch.maximum(self.worst, high)
        front = f[nd]
        self.extremes = extreme_points(front, ideal, self.extremes)
        nadir = nadir_point(self.extremes, ideal, worst, front.max(dim=0).values, high)
        self.ideal = ideal
        self.worst = worst
        self.nadir = nadir
        return ideal, nadir

    def state_dict(self) -> dict[str, Any]:
        """The tracked points (None before the first update)."""
        return {
            "ideal": self.ideal,
            "worst": self.worst,
            "extremes": self.extremes,
            "nadir": self.nadir,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.ideal, self.worst = state["ideal"], state["worst"]
        self.extremes, self.nadir = state["extremes"], state["nadir"]


def extreme_points(f: Tensor, ideal: Tensor, previous: Tensor | None) -> Tensor:
    """For each objective, the point of least achievement scalarizing function along that axis among ``f``
    and the previous extremes (translated values below 1e-3 count as 0, as pymoo).

    Returns:
        ``m x m`` extreme points, row ``i`` for objective ``i``.
    """
    pts = f if previous is None else torch.cat([previous, f])
    shifted = pts - ideal
    shifted = torch.where(shifted < 1e-3, torch.zeros_like(shifted), shifted)
    m = f.shape[1]
    weights = torch.full((m, m), 1e6, dtype=f.dtype, device=f.device).fill_diagonal_(1.0)
    asf = (shifted.unsqueeze(0) * weights.unsqueeze(1)).amax(dim=2)  # m x P
    return pts[asf.argmin(dim=1)]


def nadir_point(
    extremes: Tensor,
    ideal: Tensor,
    worst: Tensor,
    worst_of_front: Tensor,
    worst_of_population: Tensor,
) -> Tensor:
    """Intercepts of the hyperplane through the extreme points, with pymoo's fallbacks.

    Returns:
        ``m`` nadir estimate.
    """
    m = extremes - ideal
    ones = torch.ones(m.shape[1], dtype=m.dtype, device=m.device)
    plane, info = torch.linalg.solve_ex(m, ones)
    intercepts = 1.0 / plane
    ok = (info == 0) & torch.isfinite(plane).all() & (intercepts > 1e-6).all()
    ok = ok & torch.allclose(m @ plane, ones)
    nadir = torch.minimum(ideal + intercepts, worst)
    nadir = torch.where(ok, nadir, worst_of_front)
    return torch.where(nadir - ideal <= 1e-6, worst_of_population, nadir)


def associate(f: Tensor, ref_dirs: Tensor, ideal: Tensor, nadir: Tensor) -> tuple[Tensor, Tensor]:
    """Normalize ``f`` (``N x m``) and attach each point to its nearest reference line (``K x m``).

    Projections are computed in row blocks of at most ``_BLOCK`` entries of the ``N x K`` matrix, so a
    population of 20,000 against 10,000 directions never holds the whole matrix. Normalized points and
    directions are non-negative, so the nearest line is the one of largest projection.

    Returns:
        ``(niche, distance)``: ``N`` int64 nearest direction and ``N`` perpendicular distance to it.
    """
    denom = nadir - ideal
    denom = torch.where(denom == 0, torch.full_like(denom, 1e-12), denom)
    z = (f - ideal) / denom  # N x m
    u = ref_dirs / ref_dirs.norm(dim=1, keepdim=True)  # K x m
    if z.shape[1] == 2:
        return _associate_2d(z, u)
    step = max(1, _BLOCK // max(1, u.shape[0]))
    niches, dists = [], []
    for start in range(0, z.shape[0], step):
        block = z[start : start + step]
        # z >= 0 and u >= 0, so the nearest line has the largest projection: |z|^2 - (z.u)^2 is smallest
        proj, k = (block @ u.T).max(dim=1)  # one pass over a cache-sized rows x K block
        niches.append(k)
        dists.append(((block * block).sum(dim=1) - proj * proj).clamp(min=0).sqrt())
    return torch.cat(niches), torch.cat(dists)


def _associate_2d(z: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """Two objectives: the nearest line is one of the two whose angles bracket the point's angle
    (``O(N log K)`` by binary search instead of ``N x K`` projections)."""
    angle_u = torch.atan2(u[:, 1], u[:, 0])
    order = torch.argsort(angle_u)
    pos = torch.searchsorted(
        angle_u[order].contiguous(), torch.atan2(z[:, 1], z[:, 0]).contiguous()
    )
    cand = order[
        torch.stack([(pos - 1).clamp(min=0), pos.clamp(max=u.shape[0] - 1)], dim=1)
    ]  # N x 2
    proj = (z.unsqueeze(1) * u[cand]).sum(dim=2)  # N x 2
    # ties go to the lower direction index, as an argmax over all directions would
    take_second = (proj[:, 1] > proj[:, 0]) | (
        (proj[:, 1] == proj[:, 0]) & (cand[:, 1] < cand[:, 0])
    )
    k = torch.where(take_second, cand[:, 1], cand[:, 0])
    best = torch.where(take_second, proj[:, 1], proj[:, 0])
    return k, ((z * z).sum(dim=1) - best * best).clamp(min=0).sqrt()


def niching(
    niche: Tensor, dist: Tensor, niche_count: Tensor, n_select: int, generator: torch.Generator
) -> Tensor:
    """Pick ``n_select`` of the last front's candidates (see the module docstring).

    Args:
        niche: ``L`` niche of each candidate.
        dist: ``L`` perpendicular distance to its niche's line.
        niche_count: ``K`` members each niche already has from earlier fronts.
        n_select: how many to pick.
        generator: random generator.

    Returns:
        ``n_select`` int64 indices into the candidates.
    """
    n = niche.shape[0]
    key = torch.rand(n, generator=generator, device=niche.device, dtype=dist.dtype)
    closest = torch.full_like(niche_count, -1, dtype=dist.dtype).scatter_reduce(
        0, niche, dist, reduce="amin", include_self=False
    )
    empty_first = (niche_count[niche] == 0) & (dist == closest[niche])
    key = torch.where(empty_first, key - 1.0, key)  # the closest goes first in an empty niche
    order = lexsort([niche, key])
    sorted_niche = niche[order]
    starts = torch.ones(n, dtype=torch.bool, device=niche.device)
    starts[1:] = sorted_niche[1:] != sorted_niche[:-1]
    pos = torch.arange(n, device=niche.device)
    group_start = torch.cummax(torch.where(starts, pos, torch.zeros_like(pos)), dim=0).values
    level = torch.empty_like(pos)
    level[order] = niche_count[sorted_niche] + pos - group_start
    tie = torch.rand(n, generator=generator, device=niche.device)
    return lexsort([level, tie])[:n_select]


class ReferenceDirectionSurvival:
    """NSGA-III survival over reference directions ``ref_dirs`` (``K x m``).

    Args:
        ref_dirs: reference directions on the unit simplex.
    """

    def __init__(self, ref_dirs: Tensor) -> None:
        self.ref_dirs = ref_dirs
        self.norm = HyperplaneNormalization()

    def __call__(
        self, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
    ) -> Survivors:
        """Choose ``n_survive`` of the ``N x m`` points ``f``."""
        return feasibility_first(self.select, f, violation, n_survive, generator)

    def select(self, f: Tensor, n_survive: int, generator: torch.Generator) -> Survivors:
        """Fronts in order; the splitting front by niching."""
        rank = non_dominated_sort(f)
        ideal, nadir = self.norm.update(f, rank == 0)
        dirs = self.ref_dirs.to(f)
        niche, dist = associate(f, dirs, ideal, nadir)
        order = torch.argsort(rank, stable=True)
        last = rank[order[n_survive - 1]]
        before = (rank < last).nonzero().squeeze(1)
        front = (rank == last).nonzero().squeeze(1)
        count = torch.bincount(niche[before], minlength=dirs.shape[0])
        picked = front[
            niching(niche[front], dist[front], count, n_survive - before.numel(), generator)
        ]
        idx = torch.cat([before, picked])
        return Survivors(idx, rank[idx], torch.zeros(idx.numel(), dtype=f.dtype, device=f.device))

    def state_dict(self) -> dict[str, Any]:
        """The normalization's tracked points."""
        return self.norm.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.norm.load_state_dict(state)
