"""MOEA/D (Zhang & Li 2007): one scalar subproblem per weight vector, each solved with its neighbours.

Two variants share everything but the update:

- ``moead-sequential`` is the original. Subproblems are visited one at a time in a random order; each
  offspring is bred from the subproblem's neighbourhood (probability ``prob_neighbor_mating``, otherwise the
  whole population), updates the ideal point, and immediately replaces every neighbour it improves (at most
  ``replacement_limit`` of them, in random order, when set — MOEA/D-DE's ``nr``). One point per step.
- ``moead`` is batched: one offspring per subproblem per generation, all bred from the same population and
  evaluated together; the ideal point is updated once with all of them, and each subproblem then takes the
  best (by its own scalarization) of the offspring whose neighbourhood contains it, if that improves on its
  current solution. Semantic difference: offspring of a generation never see each other's replacements,
  a subproblem changes at most once per generation, and there is no replacement limit. It needs one
  batched evaluation of ``pop_size`` points per generation instead of ``pop_size`` evaluations of one.

Asked points belong to subproblems in the order they were asked; ``tell`` must return them in that order
(as ``step()`` does). Replacement is feasibility first (smaller violation, then smaller scalarized value); a failed evaluation
never replaces anything. Decomposition: ``"tchebycheff"``, ``"pbi"``, or ``"auto"`` (Tchebycheff for two
objectives, PBI beyond, as pymoo). Operators: SBX ``eta=20, prob=1`` and polynomial mutation, keeping one
of the two SBX children at random (pymoo's MOEA/D defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt.components import Survivors

from .base import EAConfig, EvolutionaryOptimizer
from .decomposition import better, decompose, first_per_group
from .refdirs import make_ref_dirs
from .selection import neighborhood_selection

__all__ = ["MOEAD", "SequentialMOEAD", "MOEADConfig"]


@dataclass
class MOEADConfig(EAConfig):
    pop_size: int | None = None
    """Number of subproblems; None means the number of Das–Dennis weight vectors."""
    n_partitions: int | None = None
    """Das–Dennis partitions of the weight vectors; None picks about 100 vectors."""
    n_neighbors: int = 20
    """Neighbourhood size ``T`` (nearest weight vectors, the subproblem itself included)."""
    decomposition: str = "auto"
    """``"tchebycheff"``, ``"pbi"``, or ``"auto"`` (Tchebycheff for 2 objectives, PBI beyond)."""
    pbi_theta: float = 5.0
    """PBI's penalty ``theta``."""
    prob_neighbor_mating: float = 0.9
    """Probability that parents come from the neighbourhood rather than the whole population."""
    replacement_limit: int | None = None
    """At most this many neighbours replaced per offspring (sequential variant only); None is unlimited."""
    crossover_prob: float = 1.0
    """Probability that a mating recombines (pymoo's MOEA/D: 1.0)."""
    crossover_eta: float = 20.0
    """SBX distribution index (pymoo's MOEA/D: 20)."""
    eliminate_duplicates: bool = False
    """MOEA/D keeps one solution per subproblem, duplicates included (pymoo does not eliminate them)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_neighbors < 2:
            raise ValueError(f"n_neighbors={self.n_neighbors}; expected at least 2")
        if self.decomposition not in ("auto", "tchebycheff", "pbi"):
            raise ValueError(
                f"decomposition={self.decomposition!r}; expected 'auto', 'tchebycheff' or 'pbi'"
            )
        if not 0.0 <= self.prob_neighbor_mating <= 1.0:
            raise ValueError(
                f"prob_neighbor_mating={self.prob_neighbor_mating}; expected a probability"
            )
        if self.replacement_limit is not None and self.replacement_limit < 1:
            raise ValueError(
                f"replacement_limit={self.replacement_limit}; expected at least 1 or None"
            )


class MOEAD(EvolutionaryOptimizer):
    """MOEA/D, batched: the whole population is updated once per generation (see the module docstring)."""

    Config = MOEADConfig

    def make_survival(self) -> Any:
        c = self.config
        m = self.problem.n_objectives
        self.weights = make_ref_dirs(
            "das-dennis", m, n_partitions=c.n_partitions, dtype=self.dtype, device=self.device
        )
        if c.pop_size is not None and c.pop_size != self.weights.shape[0]:
            self.weights = make_ref_dirs(
                "riesz",
                m,
                n_points=c.pop_size,
                seed=self.seed,
                dtype=self.dtype,
                device=self.device,
            )
        t = min(c.n_neighbors, self.weights.shape[0])
        self.neighbors = torch.cdist(self.weights, self.weights).argsort(dim=1, stable=True)[
            :, :t
        ]  # N x T
        self.kind = (
            c.decomposition if c.decomposition != "auto" else ("tchebycheff" if m <= 2 else "pbi")
        )
        self.ideal: Tensor | None = None
        return _NoSurvival()

    def target_pop_size(self) -> int:
        return self.weights.shape[0]

    def scalarize(self, f: Tensor, weights: Tensor) -> Tensor:
        """Subproblem values of ``f`` (``... x m``) under ``weights`` (``... x m``)."""
        return decompose(self.kind, f, weights, self.ideal, self.config.pbi_theta)

    def breed(self, owners: Tensor) -> Tensor:
        """One child for each subproblem in ``owners`` (``k``): ``k x d``."""
        v = self.variation
        parents = neighborhood_selection(
            self.neighbors[owners],
            self.pop_x.shape[0],
            v.n_parents,
            self.config.prob_neighbor_mating,
            self.generator,
        )
        children = v(
            self.pop_x[parents].transpose(0, 1), self.generator
        )  # (O * k) x d, children-major
        children = children.reshape(v.n_offsprings, owners.shape[0], -1)
        pick = torch.randint(
            0, v.n_offsprings, (owners.shape[0],), generator=self.generator, device=self.device
        )
        child = children[pick, torch.arange(owners.shape[0], device=self.device)]
        return self.problem.space.repair(child)

    def offspring(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """One child per subproblem (``n`` is ignored: a generation covers every subproblem)."""
        owners = torch.arange(self.weights.shape[0], device=self.device)
        return self.breed(owners), owners

    def update_ideal(self, fsel: Tensor, v: Tensor) -> None:
        """Lower the ideal point with the finite objective values of ``fsel`` (``k x m``)."""
        ok = torch.isfinite(v).unsqueeze(1) & torch.isfinite(fsel)
        low = torch.where(ok, fsel, torch.full_like(fsel, float("inf"))).min(dim=0).values
        self.ideal = low if self.ideal is None else torch.minimum(self.ideal, low)

    def advance(self, x: Tensor, f: Tensor, g: Tensor | None, failed: Tensor, tag: Tensor) -> None:
        fsel, v = self.selection_values(f, g, failed)
        self.update_ideal(fsel, v)
        if self.pop_x is None:  # the initial sample: subproblem i gets the i-th point told
            n = self.target_pop_size()
            idx = torch.arange(n, device=self.device)
            self.set_population(
                x, f, g, failed, Survivors(idx, torch.zeros_like(idx), fsel[:n, 0] * 0)
            )
            return
        self.replace_batched(x, f, g, failed, fsel, v, tag)

    def replace_batched(
        self,
        x: Tensor,
        f: Tensor,
        g: Tensor | None,
        failed: Tensor,
        fsel: Tensor,
        v: Tensor,
        owner: Tensor,
    ) -> None:
        """Each subproblem takes its best improving offspring among those whose neighbourhood holds it."""
        owner = owner.clamp(min=0)  # untagged points (told without asking) count as subproblem 0's
        nb = self.neighbors[owner]  # k x T subproblems each offspring may replace
        w = self.weights[nb]  # k x T x m
        g_new = self.scalarize(fsel.unsqueeze(1), w)  # k x T
        g_old = self.scalarize(self.pop_fsel[nb], w)
        v_new = v.unsqueeze(1).expand_as(g_new)
        improves = better(v_new, g_new, self.pop_v[nb], g_old) & torch.isfinite(v_new)
        pair = improves.flatten().nonzero().squeeze(1)
        target = nb.flatten()[pair]
        best = pair[first_per_group(target, [v_new.flatten()[pair], g_new.flatten()[pair]])]
        sub, child = nb.flatten()[best], best // nb.shape[1]
        self.pop_x[sub], self.pop_f[sub], self.pop_failed[sub] = x[child], f[child], failed[child]
        if g is not None:
            self.pop_g[sub] = g[child]
        self.pop_fsel[sub], self.pop_v[sub] = fsel[child], v[child]

    def extra_state(self) -> dict[str, Any]:
        return {"ideal": self.ideal}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.ideal = state["ideal"]

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        raise NotImplementedError("MOEA/D breeds per subproblem (see breed)")


class SequentialMOEAD(MOEAD):
    """MOEA/D as Zhang & Li (2007): one subproblem per step, immediate neighbourhood replacement."""

    def setup(self) -> None:
        super().setup()
        self._order = torch.zeros(0, dtype=torch.int64, device=self.device)

    def n_offsprings_now(self) -> int:
        return 1

    def offspring(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """One child, for the next subproblem of the current pass."""
        if self._order.numel() == 0:  # a new pass over the subproblems in random order
            self._order = torch.randperm(
                self.weights.shape[0], generator=self.generator, device=self.device
            )
        owner, self._order = self._order[:1], self._order[1:]
        return self.breed(owner), owner

    def advance(self, x: Tensor, f: Tensor, g: Tensor | None, failed: Tensor, tag: Tensor) -> None:
        if self.pop_x is None:
            super().advance(x, f, g, failed, tag)
            return
        fsel, v = self.selection_values(f, g, failed)
        for i in range(
            x.shape[0]
        ):  # the original algorithm is sequential by definition: one child at a time
            self.update_ideal(fsel[i : i + 1], v[i : i + 1])
            self.replace_one(
                x[i], f[i], None if g is None else g[i], failed[i], fsel[i], v[i], int(tag[i])
            )

    def replace_one(
        self,
        x: Tensor,
        f: Tensor,
        g: Tensor | None,
        failed: Tensor,
        fsel: Tensor,
        v: Tensor,
        owner: int,
    ) -> None:
        """Replace the neighbours of ``owner`` that the child improves (at most ``replacement_limit``)."""
        nb = self.neighbors[max(owner, 0)]
        if self.config.replacement_limit is not None:
            nb = nb[torch.randperm(nb.numel(), generator=self.generator, device=self.device)]
        w = self.weights[nb]
        improves = better(
            v, self.scalarize(fsel, w), self.pop_v[nb], self.scalarize(self.pop_fsel[nb], w)
        )
        improves &= torch.isfinite(v)
        if self.config.replacement_limit is not None:
            improves &= torch.cumsum(improves.long(), dim=0) <= self.config.replacement_limit
        sub = nb[improves]
        self.pop_x[sub], self.pop_f[sub], self.pop_failed[sub] = x, f, failed
        if g is not None:
            self.pop_g[sub] = g
        self.pop_fsel[sub], self.pop_v[sub] = fsel, v

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "order": self._order}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self._order = state["order"]


class _NoSurvival:
    """MOEA/D replaces per subproblem instead of running a survival."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
