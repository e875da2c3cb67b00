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
(as ``step()`` does). Replacement is feasibility first (smaller violation, then smaller scalarized value); a
failed evaluation never replaces anything. The subproblems (weights, neighbourhoods, scalarizing function,
ideal point) are a :class:`~polyopt_plugins.moea.decomposition.Decomposition`, with ``"tchebycheff"``,
``"pbi"``, or ``"auto"`` (Tchebycheff for two objectives, PBI beyond, as pymoo); MOEA/D runs no survival.
Operators: SBX ``eta=20, prob=1`` and polynomial mutation, keeping one of the two SBX children at random
(pymoo's MOEA/D defaults).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.moea.base import EAConfig, EvolutionaryOptimizer
from polyopt_plugins.moea.decomposition import Decomposition, better, first_per_group
from polyopt_plugins.moea.population import Population
from polyopt_plugins.moea.refdirs import make_ref_dirs
from polyopt_plugins.moea.selection import neighborhood_selection

__all__ = ["MOEAD", "SequentialMOEAD", "MOEADConfig"]


@dataclass
class MOEADConfig(EAConfig):
    pop_size: int | None = None
    """Number of subproblems; None means the number of Das–Dennis weight vectors (Riesz s-energy vectors
    are used for any other count)."""
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

    config: MOEADConfig

    def setup(self) -> None:
        super().setup()
        self.decomposition = self.make_decomposition()

    def make_decomposition(self) -> Decomposition:
        """Das-Dennis weights (Riesz s-energy ones when ``pop_size`` asks for another count), their
        neighbourhoods and the scalarizing function."""
        c = self.config
        m = self.problem.n_objectives
        weights = make_ref_dirs(
            "das-dennis", m, n_partitions=c.n_partitions, dtype=self.dtype, device=self.device
        )
        if c.pop_size is not None and c.pop_size != weights.shape[0]:
            weights = make_ref_dirs(
                "riesz",
                m,
                n_points=c.pop_size,
                seed=self.seed,
                dtype=self.dtype,
                device=self.device,
            )
        kind = c.decomposition
        if kind == "auto":
            kind = "tchebycheff" if m <= 2 else "pbi"
        return Decomposition(weights, c.n_neighbors, kind, c.pbi_theta)

    def target_pop_size(self) -> int:
        return len(self.decomposition)

    def breed(self, owners: Tensor) -> Tensor:
        """One child for each subproblem in ``owners`` (``k``): ``k x d``."""
        v = self.variation
        k = owners.shape[0]
        parents = neighborhood_selection(
            self.decomposition.neighbors[owners],
            len(self.population),
            v.n_parents,
            self.config.prob_neighbor_mating,
            self.generator,
        )
        children = v(self.population.x[parents].transpose(0, 1), self.generator)  # (O * k) x d
        children = children.reshape(v.n_offsprings, k, -1)  # children-major
        pick = torch.randint(0, v.n_offsprings, (k,), generator=self.generator, device=self.device)
        child = children[pick, torch.arange(k, device=self.device)]
        return self.problem.space.repair(child)

    def offspring(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """One child per subproblem (``n`` is ignored: a generation covers every subproblem)."""
        owners = torch.arange(len(self.decomposition), device=self.device)
        return self.breed(owners), owners

    def advance(self, told: Population) -> None:
        children = self.with_selection(told)
        self.decomposition.update_ideal(*children.selection())
        if self.pop is None:  # the initial sample: subproblem i gets the i-th point told
            self.pop = children.take(torch.arange(self.target_pop_size(), device=self.device))
            return
        assert told.tag is not None, "the tell buffer is tagged"
        self.replace_batched(children, told.tag)

    def replace_batched(self, children: Population, owner: Tensor) -> None:
        """Each subproblem takes its best improving child among those whose neighbourhood holds it.

        Args:
            children: ``k`` evaluated children with selection values.
            owner: ``k`` int64, the subproblem each child was bred for.
        """
        dec, pop = self.decomposition, self.population
        f_new, v_new = children.selection()
        f_old, v_old = pop.selection()
        owner = owner.clamp(min=0)  # untagged points (told without asking) count as subproblem 0's
        nb = dec.neighbors[owner]  # k x T subproblems each child may replace
        w = dec.weights[nb]  # k x T x m
        g_new = dec(f_new.unsqueeze(1), w)  # k x T
        g_old = dec(f_old[nb], w)
        v_new = v_new.unsqueeze(1).expand_as(g_new)
        improves = better(v_new, g_new, v_old[nb], g_old) & torch.isfinite(v_new)
        pair = improves.flatten().nonzero().squeeze(1)
        target = nb.flatten()[pair]
        best = pair[first_per_group(target, [v_new.flatten()[pair], g_new.flatten()[pair]])]
        sub = nb.flatten()[best]
        child = best // nb.shape[1]
        pop.put(sub, children.take(child))

    def extra_state(self) -> dict[str, Any]:
        return {"decomposition": self.decomposition.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        if (
            "decomposition" not in state
        ):  # a checkpoint from before the Decomposition object: "extra" held it
            state = {"decomposition": {"ideal": state["extra"]["ideal"]}, **state["extra"]}
        self.decomposition.load_state_dict(state["decomposition"])


class SequentialMOEAD(MOEAD):
    """MOEA/D as Zhang & Li (2007): one subproblem per step, immediate neighbourhood replacement."""

    def setup(self) -> None:
        super().setup()
        #: the subproblems left in the current pass, in visiting order
        self._order = torch.zeros(0, dtype=torch.int64, device=self.device)

    def n_offsprings_now(self) -> int:
        return 1

    def offspring(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """One child, for the next subproblem of the current pass."""
        if self._order.numel() == 0:  # a new pass over the subproblems in random order
            self._order = torch.randperm(
                len(self.decomposition), generator=self.generator, device=self.device
            )
        owner = self._order[:1]
        self._order = self._order[1:]
        return self.breed(owner), owner

    def advance(self, told: Population) -> None:
        if self.pop is None:
            super().advance(told)
            return
        assert told.tag is not None, "the tell buffer is tagged"
        children = self.with_selection(told)
        for i in range(len(children)):  # the original algorithm is sequential: one child at a time
            child = children.take(slice(i, i + 1))
            self.decomposition.update_ideal(*child.selection())
            self.replace_one(child, int(told.tag[i]))

    def replace_one(self, child: Population, owner: int) -> None:
        """Replace the neighbours of ``owner`` that ``child`` (one row) improves (at most
        ``replacement_limit``, in random order)."""
        dec, pop = self.decomposition, self.population
        f_new, v_new = child.selection()
        f_old, v_old = pop.selection()
        limit = self.config.replacement_limit
        nb = dec.neighbors[max(owner, 0)]
        if limit is not None:
            nb = nb[torch.randperm(nb.numel(), generator=self.generator, device=self.device)]
        w = dec.weights[nb]
        improves = better(v_new, dec(f_new, w), v_old[nb], dec(f_old[nb], w))
        improves &= torch.isfinite(v_new)
        if limit is not None:
            improves &= torch.cumsum(improves.long(), dim=0) <= limit
        pop.put(nb[improves], child)

    def extra_state(self) -> dict[str, Any]:
        return {**super().extra_state(), "order": self._order}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        super().load_extra_state(state)
        self._order = state["order"] if "order" in state else state["extra"]["order"]
